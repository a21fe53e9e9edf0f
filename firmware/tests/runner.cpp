#include "runner.h"

#include <stdio.h>
#include <string.h>

#include <vector>

namespace testing {

namespace {

struct Case {
  const char* name;
  TestFn fn;
};

// Function-local, so that registrars in other files may run first during static initialisation.
std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

int g_failures_in_case = 0;
const char* g_current = "";

}  // namespace

Registrar::Registrar(const char* name, TestFn fn) { cases().push_back(Case{name, fn}); }

void record_failure(const char* file, int line, const std::string& what) {
  if (g_failures_in_case++ == 0) printf("FAIL %s\n", g_current);
  printf("  %s:%d: CHECK failed: %s\n", file, line, what.c_str());
}

std::string show(long long v) { return std::to_string(v); }
std::string show(unsigned long long v) { return std::to_string(v); }
std::string show(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string show(bool v) { return v ? "true" : "false"; }
std::string show(const char* v) { return v == nullptr ? "nullptr" : "\"" + std::string(v) + "\""; }
std::string show(const std::string& v) { return "\"" + v + "\""; }

void check_str(const char* a, const char* b, const char* ea, const char* eb, const char* file, int line) {
  bool same = (a == nullptr || b == nullptr) ? a == b : strcmp(a, b) == 0;
  if (same) return;
  record_failure(file, line, std::string(ea) + " == " + eb + " (got " + show(a) + ", expected " + show(b) + ")");
}

}  // namespace testing

int main(int argc, char** argv) {
  // An optional argument runs only the cases whose name contains it.
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0;
  int failed = 0;
  for (const auto& c : testing::cases()) {
    if (filter != nullptr && strstr(c.name, filter) == nullptr) continue;
    testing::g_failures_in_case = 0;
    testing::g_current = c.name;
    c.fn();
    if (testing::g_failures_in_case == 0) {
      ++passed;
    } else {
      ++failed;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
