// Hash routing: the API serves index.html only at "/", so every screen lives behind "#/".
import { useEffect, useState } from "react";

export type Route = { parts: string[]; query: URLSearchParams };

export function useRoute(): Route {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const update = () => setHash(window.location.hash);
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/").filter(Boolean), query: new URLSearchParams(query) };
}

export function navigate(path: string): void {
  window.location.hash = path;
}

export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const update = () => setMatches(list.matches);
    list.addEventListener("change", update);
    return () => list.removeEventListener("change", update);
  }, [query]);
  return matches;
}

/** Changes the address to `path` without a new history entry (e.g. a list's filters: Back skips them). */
export function replaceRoute(path: string): void {
  window.history.replaceState(window.history.state, "", `#${path}`);
}
