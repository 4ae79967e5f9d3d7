import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useSyncExternalStore } from "react";

/**
 * Client-side routes under /ui, on the History API: each page has a real URL (the API answers
 * any /ui/* path with index.html), so links can be shared, opened in a new tab and bookmarked.
 */
export const BASE = "/ui";

function subscribe(listener: () => void): () => void {
  window.addEventListener("popstate", listener);
  return () => window.removeEventListener("popstate", listener);
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path below /ui (e.g. "/runs/run_…") and its query string. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(current, window.location.origin);
  const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) || "/" : url.pathname;
  return { path: path.replace(/\/+$/, "") || "/", search: url.searchParams };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = `${BASE}${to === "/" ? "/" : to}`;
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function Link({ to, ...props }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    props.onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a {...props} href={`${BASE}${to}`} onClick={onClick} />;
}

/** Sets the document title, so each page is announced and named in history. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Conveyor`;
  }, [title]);
}
