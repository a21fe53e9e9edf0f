// Loaded with `node --import` into each server the comparison starts (Hearth, Node-RED, the floor), so that
// every one is measured from inside alike without changing its code: the event loop's delay (how late a
// timer fires, so how long any request may wait for the loop) and its utilisation (the share of time the
// loop was busy). Plain JavaScript because the servers run on plain `node`.
//
// It talks over the IPC channel the benchmark opened: `{ probe: "reset" }` starts a new window,
// `{ probe: "read" }` answers with the window's figures, in milliseconds; `{ probe: "memory" }` with
// process.memoryUsage(), to tell the JavaScript heap from native memory. `{ probe: "profile-start" }` and
// `{ probe: "profile-stop", file }` take a V8 CPU profile (the one --cpu-prof takes, at its 1 ms interval) of
// just the measured requests, not of the start-up and set-up around them, and write it to `file`.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

if (process.send) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let utilisation = performance.eventLoopUtilization();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  let session;
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  process.on("message", (message) => {
    if (message?.probe === "reset") {
      histogram.reset();
      utilisation = performance.eventLoopUtilization();
      process.send?.({ probe: "reset" });
    } else if (message?.probe === "read") {
      const elu = performance.eventLoopUtilization(utilisation).utilization;
      process.send?.({
        probe: "read",
        lag: {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
          mean: ms(histogram.mean),
        },
        elu: Math.round(elu * 1000) / 1000,
      });
    } else if (message?.probe === "memory") {
      process.send?.({ probe: "memory", memory: process.memoryUsage() });
    } else if (message?.probe === "profile-start") {
      session ??= new Session();
      session.connect();
      post("Profiler.enable")
        .then(() => post("Profiler.setSamplingInterval", { interval: 1000 }))
        .then(() => post("Profiler.start"))
        .then(() => process.send?.({ probe: "profile-start" }))
        // No answer: the benchmark's wait runs out and it goes on without a profile.
        .catch(() => undefined);
    } else if (message?.probe === "profile-stop") {
      post("Profiler.stop")
        .then(({ profile }) => {
          writeFileSync(message.file, JSON.stringify(profile));
          session.disconnect();
          process.send?.({ probe: "profile-stop" });
        })
        .catch(() => undefined);
    }
  });
  // The channel must not keep a server alive that was asked to stop.
  process.channel?.unref();
}
