// Loaded with `node --import` into each server the comparison starts (Hearth, Node-RED, the floor), so that
// every one is measured from inside alike without changing its code: the event loop's delay (how late a
// timer fires, so how long any request may wait for the loop) and its utilisation (the share of time the
// loop was busy). Plain JavaScript because the servers run on plain `node`.
//
// It talks over the IPC channel the benchmark opened: `{ probe: "reset" }` starts a new window,
// `{ probe: "read" }` answers with the window's figures, in milliseconds.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

if (process.send) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let utilisation = performance.eventLoopUtilization();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
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
    }
  });
  // The channel must not keep a server alive that was asked to stop.
  process.channel?.unref();
}
