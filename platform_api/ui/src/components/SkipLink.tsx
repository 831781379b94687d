// Keyboard users first: a "Skip to content" link (the first Tab stop of every page) and, when the screen changes,
// focus on the new screen's content rather than lost on the page's body.
import { useEffect, useRef, type MouseEvent } from "react";

/** Focuses the page's <main> (made focusable for it), unless focus is already inside it. */
export function focusMain(): void {
  const main = document.querySelector<HTMLElement>("main");
  if (!main || main.contains(document.activeElement)) return;
  if (!main.hasAttribute("tabindex")) main.setAttribute("tabindex", "-1");
  main.focus({ preventScroll: true });
}

/** Visible only while it has focus; routes live behind "#/", so it focuses <main> instead of following a hash. */
export function SkipLink() {
  const skip = (event: MouseEvent) => {
    event.preventDefault();
    focusMain();
  };
  return <a className="skip-link" href="#main" onClick={skip}>Skip to content</a>;
}

/**
 * After a change of screen (not on the first one), moves focus to the new screen's content when the link or
 * button that led there is gone or is one of the header's links (which stay). Screens load in stages (a lazy chunk, then the data), each replacing the last
 * one's <main>, so this watches for a few seconds, until the person presses a key or clicks. A screen that
 * focused a field of its own (autoFocus) keeps it.
 */
export function useFocusOnNavigate(screen: string): void {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const lost = () => {
      const active = document.activeElement;
      return !active || active === document.body || !active.isConnected || !!active.closest(".app-header");
    };
    const check = () => lost() && focusMain();
    const timer = setInterval(check, 100);
    const stop = () => clearInterval(timer);
    const frame = requestAnimationFrame(check);
    const until = setTimeout(stop, 3000);
    window.addEventListener("keydown", stop, { once: true, capture: true });
    window.addEventListener("pointerdown", stop, { once: true, capture: true });
    return () => {
      stop();
      cancelAnimationFrame(frame);
      clearTimeout(until);
      window.removeEventListener("keydown", stop, { capture: true });
      window.removeEventListener("pointerdown", stop, { capture: true });
    };
  }, [screen]);
}
