/**
 * The fixture site (@conveyor/testing/fixture-site) in its own process, so the
 * pages the browsers load are not served from the event loop that drives the comparisons.
 * Prints "fixture site at <url>" when ready; SIGTERM closes it.
 */
import { startFixtureSite } from "@conveyor/testing/fixture-site";

const site = await startFixtureSite();
console.log(`fixture site at ${site.url}`);
const stop = async () => {
  await site.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
