/**
 * Reads a Prometheus text exposition with a real parser (prom2javascript: it throws on a line it
 * cannot read, and keeps each label set of a histogram apart), and looks series up by name and
 * labels.
 */
import { Readable } from "node:stream";
import {
  getMetricsFromStream,
  type PromData,
  type PromHistogramData,
  type PromMetric,
  type PromMetrics,
} from "prom2javascript";

type Sample = { labels: Record<string, string> };

function matching<T extends Sample>(samples: T[], labels: Record<string, string>): T[] {
  return samples.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

export class Scrape {
  readonly text: string;
  readonly families: PromMetrics;
  constructor(text: string, families: PromMetrics) {
    this.text = text;
    this.families = families;
  }

  has(name: string): boolean {
    return name in this.families;
  }

  family(name: string): PromMetric {
    const family = this.families[name];
    if (!family) throw new Error(`no metric family ${name} in the scrape`);
    return family;
  }

  /** The value of the counter or gauge sample of `name` whose labels include `labels` (exactly one). */
  value(name: string, labels: Record<string, string> = {}): number {
    const family = this.family(name);
    if (family.type !== "counter" && family.type !== "gauge") throw new Error(`${name} is a ${family.type}`);
    const matches = matching(family.data as PromData[], labels);
    const [sample] = matches;
    if (matches.length !== 1 || !sample) {
      throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
    }
    return sample.value;
  }

  /** Every histogram series of `name` whose labels include `labels`. */
  histograms(name: string, labels: Record<string, string> = {}): PromHistogramData[] {
    const family = this.family(name);
    if (family.type !== "histogram") throw new Error(`${name} is a ${family.type}`);
    return matching(family.data as PromHistogramData[], labels);
  }
}

/** Parses a text exposition; rejects on a malformed line. */
export async function parseExposition(text: string): Promise<Scrape> {
  return new Scrape(text, await getMetricsFromStream(Readable.from([text])));
}

/** Fetches `url` (with `token` as a bearer token, if given) and parses the answer. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return parseExposition(await response.text());
}
