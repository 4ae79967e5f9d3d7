/**
 * A tiny website for end-to-end tests of recordings, on 127.0.0.1 at a random port. No
 * dependencies beyond node:http, so any package's tests can import it:
 *
 * ```ts
 * import { startFixtureSite } from "../../runner/test/fixture-site.ts";
 * const site = await startFixtureSite();   // site.url = "http://127.0.0.1:PORT"
 * // … recordings use `${site.url}/login` …
 * await site.close();
 * ```
 *
 * Pages:
 * - `/login`: `#username`, `#password` (`data-testid="username"` / `"password"`), and a submit
 *   button `data-testid="login-button"`. The form POSTs to `/login`; Enter in a field submits.
 *   alice/secret redirects to `/welcome?user=alice`; anything else shows the form again with
 *   `<p id="error">Invalid password</p>`.
 * - `/welcome?user=NAME`: `<h1 id="greeting">Welcome, NAME</h1>`.
 * - `/select`: `<select id="color" name="color">` with red/green/blue (labels Red/Green/Blue);
 *   choosing one writes `Chosen: <value>` into `#chosen`.
 * - `/delayed?ms=700`: `<div id="late">Loaded late</div>` appears after `ms` milliseconds
 *   (default 700), added by a script.
 * - `/slow?ms=5000`: `<div id="done">done</div>` appears after `ms` milliseconds (default 5000).
 *   A recording that asserts `#done` is visible lasts about `ms`.
 * - `/slow-response?ms=5000`: the server itself waits `ms` milliseconds before answering.
 * - `/tricky`: awkward attribute values for selector escaping: an element with
 *   `data-testid='say "hi" \ now'` (text `Tricky testid`) and one with `id="a:b.c"` (text `Tricky id`).
 * - `/`: links to all of the above.
 *
 * `close()` ends open connections and pending slow responses, so nothing is left running.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FixtureSite {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:43567`. */
  url: string;
  close(): Promise<void>;
}

/** Longest delay `?ms=` accepts, in milliseconds. */
const MAX_DELAY_MS = 600_000;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function delayFrom(url: URL, fallback: number): number {
  const ms = Number(url.searchParams.get("ms") ?? fallback);
  return Number.isFinite(ms) ? Math.min(Math.max(0, Math.trunc(ms)), MAX_DELAY_MS) : fallback;
}

function loginForm(error?: string): string {
  return page(
    "Log in",
    `<h1>Log in</h1>
${error === undefined ? "" : `<p id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/login">
  <label>User <input id="username" name="username" data-testid="username" autocomplete="off"></label>
  <label>Password <input id="password" name="password" type="password" data-testid="password"></label>
  <button type="submit" data-testid="login-button">Log in</button>
</form>`,
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > 64 * 1024) break;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFixtureSite(): Promise<FixtureSite> {
  const pendingTimers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, html: string) => {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fixture.invalid");
    switch (url.pathname) {
      case "/":
        return send(
          res,
          200,
          page(
            "Fixture site",
            ["/login", "/select", "/delayed", "/slow", "/slow-response", "/tricky"]
              .map((path) => `<a href="${path}">${path}</a>`)
              .join("<br>"),
          ),
        );
      case "/login": {
        if (req.method !== "POST") return send(res, 200, loginForm());
        const form = new URLSearchParams(await readBody(req));
        const username = form.get("username") ?? "";
        if (username === "alice" && form.get("password") === "secret") {
          res.writeHead(303, { location: `/welcome?user=${encodeURIComponent(username)}` });
          res.end();
          return;
        }
        return send(res, 200, loginForm("Invalid password"));
      }
      case "/welcome": {
        const user = url.searchParams.get("user") ?? "stranger";
        return send(res, 200, page("Welcome", `<h1 id="greeting">Welcome, ${escapeHtml(user)}</h1>`));
      }
      case "/select":
        return send(
          res,
          200,
          page(
            "Select",
            `<label>Colour <select id="color" name="color">
  <option value="">Choose…</option><option value="red">Red</option><option value="green">Green</option><option value="blue">Blue</option>
</select></label>
<p id="chosen"></p>
<script>
  document.getElementById("color").addEventListener("change", (event) => {
    document.getElementById("chosen").textContent = "Chosen: " + event.target.value;
  });
</script>`,
          ),
        );
      case "/delayed":
      case "/slow": {
        const delayed = url.pathname === "/delayed";
        const ms = delayFrom(url, delayed ? 700 : 5000);
        const [id, text] = delayed ? ["late", "Loaded late"] : ["done", "done"];
        return send(
          res,
          200,
          page(
            delayed ? "Delayed" : "Slow",
            `<p>Something appears after ${ms} ms.</p>
<script>
  setTimeout(() => {
    const element = document.createElement("div");
    element.id = ${JSON.stringify(id)};
    element.textContent = ${JSON.stringify(text)};
    document.body.appendChild(element);
  }, ${ms});
</script>`,
          ),
        );
      }
      case "/slow-response": {
        const ms = delayFrom(url, 5000);
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          send(res, 200, page("Slow response", `<div id="done">done after ${ms} ms</div>`));
        }, ms);
        pendingTimers.add(timer);
        return;
      }
      case "/tricky":
        return send(
          res,
          200,
          page(
            "Tricky",
            `<button data-testid="say &quot;hi&quot; \\ now">Tricky testid</button>
<div id="a:b.c">Tricky id</div>`,
          ),
        );
      default:
        return send(res, 404, page("Not found", `<h1 id="not-found">Not found</h1>`));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, page("Error", `<pre>${escapeHtml(String(error))}</pre>`));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
