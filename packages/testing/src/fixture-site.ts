/**
 * A tiny website for end-to-end tests of recordings, on 127.0.0.1 at a random port. No
 * dependencies beyond node:http, so any package's tests can import it:
 *
 * ```ts
 * import { startFixtureSite } from "@conveyor/testing/fixture-site";
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
 * - `/checkboxes`: a checkbox `#terms` (name `terms`) and a radio group `plan` (`#plan-free`,
 *   `#plan-pro`); `#summary` reads `terms=<yes|no> plan=<value|none>` after every change.
 * - `/hover`: a menu `#menu`; `#submenu` (with a link `#submenu-link`, text `Settings`, to
 *   `/welcome?user=hover`) shows only while the mouse is over the menu (CSS :hover), and
 *   `mouseenter` writes `entered` into `#hover-state`.
 * - `/modal`: `#open-modal` shows `<div role="dialog" id="modal">` after ~300 ms; its
 *   `#close-modal` hides it again. The hidden dialog stays in the DOM.
 * - `/scroll`: a 4000 px tall page and a 200 px scroll container `#box` (2000 px of content);
 *   scrolling writes `x,y` into `#scrollpos` (window) and `#boxpos` (box).
 * - `/dialogs`: `#alert` (then `#alert-result` reads `alerted`), `#confirm` (result `true`/`false`
 *   in `#confirm-result`), `#prompt` (answer, or `null`, in `#prompt-result`; default `fixture`).
 * - `/iframe`: `<iframe id="frame" src="/frame-inner">`; `/frame-inner` has `#inner-input` and
 *   `#inner-button`, which writes `inner: <value>` into `#inner-result`. `/iframe-nested` puts
 *   `/iframe` in `<iframe id="outer">`.
 * - `/keys`: `#field`; Enter in it writes `submitted: <value>` into `#result`; Control+K anywhere
 *   writes `shortcut` into `#shortcut`.
 * - `/title`: title `Fixture Title`; `/late-title?ms=500` changes its title to `Late Title` after
 *   `ms`.
 * - `/scripted`: `#go`, a broken image whose `onerror` and an inline script that each append a
 *   `p.ran` (two on a live page; a copy of the page that ran them again shows more).
 * - `/form-submit`: a form `#form` with `#q` and no submit button; its submit handler navigates
 *   to `/submitted?q=<value>` (`#submitted` reads `submitted: <value>`). `/script-form` handles
 *   submit by script without navigating (`#status` reads `handled: <value>`).
 * - `/double`: `#target`; a double click writes `double` into `#dbl`, a right click writes
 *   `context` into `#ctx`, a Shift+click writes `shift` into `#mod`, and any click writes the
 *   element-relative offset `x,y` into `#pos`.
 * - `/lists`: selector-strategy targets: three `.item` buttons with `data-testid="dup"` (text
 *   `Dup 1`…`Dup 3`), one `data-testid="only"` button (text `Only testid`) that writes `clicked`
 *   into `#only-result`, `<input placeholder="Your email">`, `<a href="/welcome?user=link">`
 *   (text `Go`), `<img src="/pixel.png?v=1" alt="pixel">`, a paragraph `A longer sentence here`,
 *   and a `<select id="late-select">` whose options `a`/`b` (labels `Alpha`/`Beta`) arrive 300 ms
 *   after load.
 * - `/redirect?to=URL`: a 302 to `URL`.
 * - `/embed?target=ORIGIN`: an `<img>`, an `<iframe>`, a `fetch` and a WebSocket aimed at `ORIGIN`
 *   (`#fetch-result` and `#ws-result` say how they ended), and a link `#away` to `ORIGIN/link`.
 * - `/popup?target=ORIGIN`: `#open` opens a popup at `ORIGIN/popup`; a service worker (`/sw.js`)
 *   fetches `ORIGIN/sw` and `#sw-result` says how that ended (`sw: failed: …`).
 * - `/download`: an attachment (`report.txt`).
 * - `/shadow`: `<outer-host id="outer-host">` with an open shadow root holding
 *   `<inner-host id="inner-host">`, whose own open shadow root (two deep) holds
 *   `<label>Shadow field <input id="shadow-input"></label>` and `<button id="shadow-button">Press
 *   me</button>`; the button writes `pressed: <value>` into `#shadow-result` (light DOM). A light
 *   DOM link `#light-press` (text `Press me`, role link) shares the button's accessible name.
 * - `/opener`: `<a id="open-link" target="_blank" href="/popup-page?via=link">` and
 *   `#open-window`, which opens `/popup-page?via=window` with `window.open` (`#open-late` does so
 *   after `?ms=` ms, default 500); `#opener-result` reads `reply: <via>` once the popup's reply
 *   button was pressed. `/popup-page?via=V`: `<h1 id="popup-title">Popup via V</h1>`,
 *   `#popup-reply` (writes `replied` into `#popup-result`, and the reply into the opener when it
 *   has one), `#popup-close`, which closes the popup with `window.close()`, and
 *   `#popup-close-late`, which does so 300 ms later.
 * - `/keyboard-form`: a form with `#first`, `#second` (in tab order, the first focusable elements
 *   of the page) and a submit button; submitting (Enter in a field) writes
 *   `submitted: first=<a> second=<b>` into `#kb-result`.
 * - `/editable`: `<div id="editor" contenteditable="true">Old text</div>`; every input writes
 *   `text: <its text>` into `#editor-out`.
 * - `/appear?ms=600`: for waitForElement: after `ms` milliseconds (default 600) `#status`'s
 *   `data-state` goes from `loading` to `ready`, the input `#progress` gets the value (property)
 *   `"100"` (its `value` attribute stays `0`), two `.row` join the one there (three in all),
 *   `#spinner` (visible until then) is removed and `window.appState` goes from `"loading"` to
 *   `"ready"`; `#hidden-note` is in the DOM, hidden, throughout.
 * - `/press`: `#press-target`; a mouse button held down for 400 ms or more writes `long press`
 *   into `#press-result`, a shorter one `short press`.
 * - `/network`: `#ping` fetches `/ping` (answers `pong`) and writes `ok in <ms> ms` (with
 *   `data-slow="yes"` when it took 400 ms or more, else `"no"`) or `failed` into `#ping-result`;
 *   `#online` reads `online`/`offline` as `navigator.onLine` changes.
 * - `/viewport`: `#size` reads `<innerWidth>x<innerHeight>`, updated on resize.
 * - `/flaky?key=K&fails=N`: counts visits per `key`; the first `N` (default 1) show
 *   `<p id="broken">broken (visit n)</p>`, every later one `<p id="ok">ok (visit n)</p>`. A
 *   recording asserting `#ok` fails on its first run and passes on the next: a flaky test. Use a
 *   key per test (`site.visits(key)` reads the count).
 * - `/`: links to all of the above.
 *
 * `close()` ends open connections and pending slow responses, so nothing is left running.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FixtureSite {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:43567`. */
  url: string;
  /** Visits of `/flaky?key=…` so far. */
  visits(key: string): number;
  close(): Promise<void>;
}

/** A 1×1 transparent PNG, for `src` selectors. */
const PIXEL_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64",
);

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
  const flakyVisits = new Map<string, number>();

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
            [
              "/login",
              "/select",
              "/delayed",
              "/slow",
              "/slow-response",
              "/tricky",
              "/checkboxes",
              "/hover",
              "/modal",
              "/scroll",
              "/dialogs",
              "/iframe",
              "/keys",
              "/title",
              "/form-submit",
              "/double",
              "/lists",
              "/shadow",
              "/opener",
              "/keyboard-form",
              "/editable",
              "/appear",
              "/press",
              "/network",
              "/viewport",
            ]
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
      case "/flaky": {
        const key = url.searchParams.get("key") ?? "";
        const fails = Number(url.searchParams.get("fails") ?? "1");
        const visit = (flakyVisits.get(key) ?? 0) + 1;
        flakyVisits.set(key, visit);
        return send(
          res,
          200,
          page(
            "Flaky",
            visit <= fails ? `<p id="broken">broken (visit ${visit})</p>` : `<p id="ok">ok (visit ${visit})</p>`,
          ),
        );
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
      case "/checkboxes":
        return send(
          res,
          200,
          page(
            "Checkboxes",
            `<label><input type="checkbox" id="terms" name="terms"> I agree</label>
<fieldset><legend>Plan</legend>
  <label><input type="radio" name="plan" id="plan-free" value="free"> Free</label>
  <label><input type="radio" name="plan" id="plan-pro" value="pro"> Pro</label>
</fieldset>
<p id="summary">terms=no plan=none</p>
<script>
  const update = () => {
    const plan = document.querySelector("input[name=plan]:checked");
    document.getElementById("summary").textContent =
      "terms=" + (document.getElementById("terms").checked ? "yes" : "no") + " plan=" + (plan ? plan.value : "none");
  };
  for (const input of document.querySelectorAll("input")) input.addEventListener("change", update);
</script>`,
          ),
        );
      case "/hover":
        return send(
          res,
          200,
          page(
            "Hover",
            `<style>#submenu { display: none; } #menu:hover #submenu { display: block; } #menu { width: 200px; }</style>
<div id="menu"><span>Menu</span><div id="submenu"><a id="submenu-link" href="/welcome?user=hover">Settings</a></div></div>
<p id="hover-state">idle</p>
<p style="margin-top: 300px">far away</p>
<script>
  document.getElementById("menu").addEventListener("mouseenter", () => {
    document.getElementById("hover-state").textContent = "entered";
  });
</script>`,
          ),
        );
      case "/modal":
        return send(
          res,
          200,
          page(
            "Modal",
            `<button id="open-modal">Open</button>
<div role="dialog" id="modal" hidden><p>Hello from the modal</p><button id="close-modal">Close</button></div>
<script>
  document.getElementById("open-modal").addEventListener("click", () => {
    setTimeout(() => { document.getElementById("modal").hidden = false; }, 300);
  });
  document.getElementById("close-modal").addEventListener("click", () => {
    document.getElementById("modal").hidden = true;
  });
</script>`,
          ),
        );
      case "/scroll":
        return send(
          res,
          200,
          page(
            "Scroll",
            `<p id="scrollpos">0,0</p>
<div id="box" style="height: 200px; width: 300px; overflow: auto;"><div style="height: 2000px; width: 1000px;">box content</div></div>
<p id="boxpos">0,0</p>
<div style="height: 4000px;">tall</div>
<script>
  window.addEventListener("scroll", () => {
    document.getElementById("scrollpos").textContent = Math.round(window.scrollX) + "," + Math.round(window.scrollY);
  });
  const box = document.getElementById("box");
  box.addEventListener("scroll", () => {
    document.getElementById("boxpos").textContent = Math.round(box.scrollLeft) + "," + Math.round(box.scrollTop);
  });
</script>`,
          ),
        );
      case "/dialogs":
        return send(
          res,
          200,
          page(
            "Dialogs",
            `<button id="alert">Alert</button> <button id="confirm">Confirm</button> <button id="prompt">Prompt</button>
<p id="alert-result"></p><p id="confirm-result"></p><p id="prompt-result"></p>
<script>
  document.getElementById("alert").addEventListener("click", () => {
    alert("Hello");
    document.getElementById("alert-result").textContent = "alerted";
  });
  document.getElementById("confirm").addEventListener("click", () => {
    document.getElementById("confirm-result").textContent = String(confirm("Sure?"));
  });
  document.getElementById("prompt").addEventListener("click", () => {
    document.getElementById("prompt-result").textContent = String(prompt("Name?", "fixture"));
  });
</script>`,
          ),
        );
      case "/iframe":
        return send(
          res,
          200,
          page("Iframe", `<h1>Outer page</h1><iframe id="frame" src="/frame-inner" width="400" height="200"></iframe>`),
        );
      case "/iframe-nested":
        return send(
          res,
          200,
          page("Nested iframe", `<iframe id="outer" src="/iframe" width="500" height="300"></iframe>`),
        );
      case "/frame-inner":
        return send(
          res,
          200,
          page(
            "Inner frame",
            `<form onsubmit="return false"><input id="inner-input"> <button id="inner-button" type="button">Go</button></form>
<p id="inner-result"></p>
<script>
  document.getElementById("inner-button").addEventListener("click", () => {
    document.getElementById("inner-result").textContent = "inner: " + document.getElementById("inner-input").value;
  });
</script>`,
          ),
        );
      case "/keys":
        return send(
          res,
          200,
          page(
            "Keys",
            `<input id="field"> <p id="result"></p> <p id="shortcut"></p>
<script>
  document.getElementById("field").addEventListener("keydown", (event) => {
    if (event.key === "Enter") document.getElementById("result").textContent = "submitted: " + event.target.value;
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      document.getElementById("shortcut").textContent = "shortcut";
    }
  });
</script>`,
          ),
        );
      case "/title":
        return send(res, 200, page("Fixture Title", `<h1>Title page</h1>`));
      case "/scripted":
        // Its script and its image's onerror each add a p.ran when they run: a copy of this page
        // (a trace snapshot) that shows more than two ran them again.
        return send(
          res,
          200,
          page(
            "Scripted",
            `<h1>Scripted</h1><button id="go" type="button">Go</button>
<img id="broken" alt="broken" src="/missing.png" onerror="document.body.insertAdjacentHTML('beforeend', '<p class=ran>onerror ran</p>')">
<script>document.body.insertAdjacentHTML("beforeend", "<p class=ran>script ran</p>");</script>`,
          ),
        );
      case "/late-title": {
        const ms = delayFrom(url, 500);
        return send(
          res,
          200,
          page("Early Title", `<script>setTimeout(() => { document.title = "Late Title"; }, ${ms});</script>`),
        );
      }
      case "/form-submit":
        return send(
          res,
          200,
          page(
            "Form submit",
            `<form id="form"><input id="q" name="q"></form>
<script>
  document.getElementById("form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.href = "/submitted?q=" + encodeURIComponent(document.getElementById("q").value);
  });
</script>`,
          ),
        );
      case "/submitted": {
        const q = url.searchParams.get("q") ?? "";
        return send(res, 200, page("Submitted", `<p id="submitted">submitted: ${escapeHtml(q)}</p>`));
      }
      case "/script-form":
        return send(
          res,
          200,
          page(
            "Script form",
            `<form id="form"><label>Q <input id="q" name="q"></label></form><p id="status"></p>
<script>
  document.getElementById("form").addEventListener("submit", (event) => {
    event.preventDefault();
    document.getElementById("status").textContent = "handled: " + document.getElementById("q").value;
  });
</script>`,
          ),
        );
      case "/double":
        return send(
          res,
          200,
          page(
            "Double",
            `<div id="target" style="width: 200px; height: 100px; background: #ddd; user-select: none;">Target</div>
<p id="dbl"></p><p id="ctx"></p><p id="mod"></p><p id="pos"></p>
<script>
  const target = document.getElementById("target");
  target.addEventListener("dblclick", () => { document.getElementById("dbl").textContent = "double"; });
  target.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    document.getElementById("ctx").textContent = "context";
  });
  target.addEventListener("click", (event) => {
    if (event.shiftKey) document.getElementById("mod").textContent = "shift";
    document.getElementById("pos").textContent = Math.round(event.offsetX) + "," + Math.round(event.offsetY);
  });
</script>`,
          ),
        );
      case "/lists":
        return send(
          res,
          200,
          page(
            "Lists",
            `<button class="item" data-testid="dup">Dup 1</button>
<button class="item" data-testid="dup">Dup 2</button>
<button class="item" data-testid="dup">Dup 3</button>
<button data-testid="only">Only testid</button> <p id="only-result"></p>
<input placeholder="Your email">
<a href="/welcome?user=link">Go</a>
<img src="/pixel.png?v=1" alt="pixel" width="1" height="1">
<p id="sentence">A longer sentence here</p>
<select id="late-select"></select>
<script>
  document.querySelector("[data-testid=only]").addEventListener("click", () => {
    document.getElementById("only-result").textContent = "clicked";
  });
  setTimeout(() => {
    document.getElementById("late-select").innerHTML = '<option value="a">Alpha</option><option value="b">Beta</option>';
  }, 300);
</script>`,
          ),
        );
      case "/pixel.png":
        res.writeHead(200, { "content-type": "image/png", "cache-control": "no-store" });
        res.end(PIXEL_PNG);
        return;
      case "/redirect": {
        res.writeHead(302, { location: url.searchParams.get("to") ?? "/", "cache-control": "no-store" });
        res.end();
        return;
      }
      case "/embed": {
        // Everything a page can reach for without navigating: each to `target` (an origin).
        const target = url.searchParams.get("target") ?? "";
        const ws = target.replace(/^http/, "ws");
        return send(
          res,
          200,
          page(
            "Embed",
            `<h1 id="embed">Embedding ${escapeHtml(target)}</h1>
<img id="img" src="${escapeHtml(target)}/img.png" alt="img">
<iframe id="frame" src="${escapeHtml(target)}/frame"></iframe>
<a id="away" href="${escapeHtml(target)}/link">away</a>
<p id="fetch-result">pending</p><p id="ws-result">pending</p>
<script>
  const target = ${JSON.stringify(target)};
  fetch(target + "/fetch").then((r) => r.text(), (e) => "failed: " + e.message)
    .then((text) => { document.getElementById("fetch-result").textContent = "fetch: " + text; });
  try {
    const socket = new WebSocket(${JSON.stringify(ws)} + "/ws");
    socket.onerror = () => { document.getElementById("ws-result").textContent = "ws: error"; };
    socket.onopen = () => { document.getElementById("ws-result").textContent = "ws: open"; };
  } catch (error) {
    document.getElementById("ws-result").textContent = "ws: " + error.message;
  }
</script>`,
          ),
        );
      }
      case "/popup": {
        // A popup and a service worker, each aimed at `target` (an origin).
        const target = url.searchParams.get("target") ?? "";
        return send(
          res,
          200,
          page(
            "Popup",
            `<button id="open" onclick="window.open(${escapeHtml(JSON.stringify(`${target}/popup`))}, 'popup')">open</button>
<p id="sw-result">pending</p>
<script>
  navigator.serviceWorker.register("/sw.js?target=" + encodeURIComponent(${JSON.stringify(target)}))
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => new Promise((resolve) => {
      navigator.serviceWorker.onmessage = (event) => resolve(event.data);
      registration.active.postMessage("fetch");
    }))
    .then((answer) => { document.getElementById("sw-result").textContent = "sw: " + answer; },
          (error) => { document.getElementById("sw-result").textContent = "sw: " + error.message; });
</script>`,
          ),
        );
      }
      case "/sw.js": {
        const target = url.searchParams.get("target") ?? "";
        res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" });
        res.end(`self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("message", (event) => {
  fetch(${JSON.stringify(target)} + "/sw").then((r) => r.text(), (e) => "failed: " + e.message)
    .then((text) => event.source.postMessage(text));
});`);
        return;
      }
      case "/shadow":
        return send(
          res,
          200,
          page(
            "Shadow",
            `<outer-host id="outer-host"></outer-host>
<p><a id="light-press" href="#">Press me</a></p>
<p id="shadow-result"></p>
<script>
  customElements.define("inner-host", class extends HTMLElement {
    constructor() {
      super();
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = '<label>Shadow field <input id="shadow-input"></label> <button id="shadow-button" type="button">Press me</button>';
      root.getElementById("shadow-button").addEventListener("click", () => {
        document.getElementById("shadow-result").textContent = "pressed: " + root.getElementById("shadow-input").value;
      });
    }
  });
  customElements.define("outer-host", class extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: "open" }).innerHTML = '<p>Outer shadow</p><inner-host id="inner-host"></inner-host>';
    }
  });
</script>`,
          ),
        );
      case "/opener": {
        const ms = delayFrom(url, 500);
        return send(
          res,
          200,
          page(
            "Opener",
            `<p><a id="open-link" href="/popup-page?via=link" target="_blank">Open in a new tab</a></p>
<p><button id="open-window" type="button">Open a window</button>
<button id="open-late" type="button">Open a window late</button></p>
<p id="opener-result"></p>
<script>
  const open = () => window.open("/popup-page?via=window", "conveyor-popup", "width=400,height=300");
  document.getElementById("open-window").addEventListener("click", open);
  document.getElementById("open-late").addEventListener("click", () => setTimeout(open, ${ms}));
</script>`,
          ),
        );
      }
      case "/popup-page": {
        const via = url.searchParams.get("via") ?? "none";
        return send(
          res,
          200,
          page(
            "Popup page",
            `<h1 id="popup-title">Popup via ${escapeHtml(via)}</h1>
<button id="popup-reply" type="button">Reply</button> <button id="popup-close" type="button">Done</button>
<button id="popup-close-late" type="button">Done soon</button>
<p id="popup-result"></p>
<script>
  document.getElementById("popup-reply").addEventListener("click", () => {
    document.getElementById("popup-result").textContent = "replied";
    const result = window.opener && window.opener.document.getElementById("opener-result");
    if (result) result.textContent = "reply: " + ${JSON.stringify(via)};
  });
  document.getElementById("popup-close").addEventListener("click", () => window.close());
  document.getElementById("popup-close-late").addEventListener("click", () => setTimeout(() => window.close(), 300));
</script>`,
          ),
        );
      }
      case "/keyboard-form":
        return send(
          res,
          200,
          page(
            "Keyboard form",
            `<form id="kb-form">
  <label>First <input id="first" name="first"></label>
  <label>Second <input id="second" name="second"></label>
  <button type="submit">Send</button>
</form>
<p id="kb-result"></p>
<script>
  document.getElementById("kb-form").addEventListener("submit", (event) => {
    event.preventDefault();
    document.getElementById("kb-result").textContent =
      "submitted: first=" + document.getElementById("first").value + " second=" + document.getElementById("second").value;
  });
</script>`,
          ),
        );
      case "/editable":
        return send(
          res,
          200,
          page(
            "Editable",
            `<div id="editor" contenteditable="true" style="border: 1px solid #999; min-height: 2em;">Old text</div>
<p id="editor-out"></p>
<script>
  const editor = document.getElementById("editor");
  editor.addEventListener("input", () => {
    document.getElementById("editor-out").textContent = "text: " + editor.textContent;
  });
</script>`,
          ),
        );
      case "/appear": {
        const ms = delayFrom(url, 600);
        return send(
          res,
          200,
          page(
            "Appear",
            `<div id="status" data-state="loading">Status</div>
<input id="progress" value="0">
<div id="spinner">Loading…</div>
<div id="rows"><div class="row">Row 1</div></div>
<p id="hidden-note" hidden>Hidden note</p>
<script>
  window.appState = "loading";
  setTimeout(() => {
    document.getElementById("status").setAttribute("data-state", "ready");
    document.getElementById("progress").value = "100";
    document.getElementById("rows").insertAdjacentHTML("beforeend", '<div class="row">Row 2</div><div class="row">Row 3</div>');
    document.getElementById("spinner").remove();
    window.appState = "ready";
  }, ${ms});
</script>`,
          ),
        );
      }
      case "/press":
        return send(
          res,
          200,
          page(
            "Press",
            `<div id="press-target" style="width: 200px; height: 100px; background: #ddd; user-select: none;">Hold me</div>
<p id="press-result"></p>
<script>
  const target = document.getElementById("press-target");
  let downAt = 0;
  target.addEventListener("mousedown", () => { downAt = performance.now(); });
  target.addEventListener("mouseup", () => {
    document.getElementById("press-result").textContent = performance.now() - downAt >= 400 ? "long press" : "short press";
  });
</script>`,
          ),
        );
      case "/network":
        return send(
          res,
          200,
          page(
            "Network",
            `<button id="ping" type="button">Ping</button>
<p id="ping-result"></p>
<p id="online"></p>
<script>
  const online = () => { document.getElementById("online").textContent = navigator.onLine ? "online" : "offline"; };
  online();
  window.addEventListener("online", online);
  window.addEventListener("offline", online);
  document.getElementById("ping").addEventListener("click", () => {
    const started = performance.now();
    document.getElementById("ping-result").textContent = "pending";
    fetch("/ping", { cache: "no-store" }).then((response) => response.text()).then(
      () => {
        const ms = Math.round(performance.now() - started);
        const result = document.getElementById("ping-result");
        result.textContent = "ok in " + ms + " ms";
        result.setAttribute("data-slow", ms >= 400 ? "yes" : "no");
      },
      () => { document.getElementById("ping-result").textContent = "failed"; },
    );
  });
</script>`,
          ),
        );
      case "/ping":
        res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
        res.end("pong");
        return;
      case "/viewport":
        return send(
          res,
          200,
          page(
            "Viewport",
            `<p id="size"></p>
<script>
  const size = () => { document.getElementById("size").textContent = innerWidth + "x" + innerHeight; };
  size();
  window.addEventListener("resize", size);
</script>`,
          ),
        );
      case "/download":
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-disposition": 'attachment; filename="report.txt"',
          "cache-control": "no-store",
        });
        res.end("downloaded bytes\n");
        return;
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
    visits: (key) => flakyVisits.get(key) ?? 0,
    async close() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
