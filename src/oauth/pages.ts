/**
 * The login, consent and error pages of account linking. Server-rendered, no JavaScript, readable on a
 * phone (the Alexa and Google Home apps open them in a web view), labelled for screen readers. Every
 * value put into a page goes through `escapeHtml`.
 */
const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1.5rem;background:#f6f5f3;color:#1d1d1f}
main{max-width:24rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}
label{display:block;margin:1rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.7rem;font-size:1rem;border:1px solid #888;border-radius:8px}
button{margin-top:1.2rem;width:100%;padding:.8rem;font-size:1rem;border:0;border-radius:8px;background:#b4451f;color:#fff}
button.secondary{background:#e4e2de;color:#1d1d1f}
.error{background:#fdecea;border:1px solid #d93025;border-radius:8px;padding:.7rem;margin-bottom:1rem}
p{line-height:1.45}`;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Hearth</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function errorBox(message: string | undefined): string {
  return message ? `<div class="error" role="alert">${escapeHtml(message)}</div>\n` : "";
}

export interface LoginPage {
  clientLabel: string;
  csrf: string;
  action: string;
  userName?: string;
  error?: string;
}

export function loginPage(page: LoginPage): string {
  return layout(
    "Sign in",
    `<h1>Sign in to Hearth</h1>
<p>${escapeHtml(page.clientLabel)} wants to control your Hearth devices. Sign in with your Hearth account.</p>
${errorBox(page.error)}<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(page.csrf)}">
<input type="hidden" name="step" value="login">
<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(page.userName ?? "")}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

export interface ConsentPage {
  clientLabel: string;
  userName: string;
  csrf: string;
  action: string;
}

export function consentPage(page: ConsentPage): string {
  return layout(
    "Allow access",
    `<h1>Allow access?</h1>
<p>Signed in as <strong>${escapeHtml(page.userName)}</strong>.</p>
<p><strong>${escapeHtml(page.clientLabel)}</strong> will be able to see your Hearth devices and their state, and
to control them. You can remove this link at any time.</p>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(page.csrf)}">
<input type="hidden" name="step" value="consent">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>\n${errorBox(message)}<p>Close this page and start linking again from the Alexa or Google Home app.</p>`,
  );
}
