/** Starts the fixture site process and registers it for cleanup. */
import { onCleanup, startProcess } from "./processes.ts";

export async function startFixture(): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = startProcess("fixture-site", "bench/lib/fixture-server.ts", {});
  const unregister = onCleanup("fixture site", () => proc.kill("SIGKILL"));
  await proc.waitForOutput(/fixture site at (\S+)/);
  const url = /fixture site at (\S+)/.exec(proc.output())?.[1];
  if (!url) throw new Error("fixture site printed no URL");
  return {
    url,
    stop: async () => {
      unregister();
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
