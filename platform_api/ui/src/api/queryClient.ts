// The cache of server state (TanStack Query) that every screen reads through.
import { focusManager, QueryClient } from "@tanstack/react-query";

export const queryClient = new QueryClient({
  // Errors show at once, as they did before the cache: a retry would only delay the message.
  defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
});

// Lists refresh when the window is back in front: on focus too (back from a network's consent page in another
// tab), not only when the page becomes visible again.
focusManager.setEventListener((onFocus) => {
  const refocused = () => onFocus();
  window.addEventListener("focus", refocused);
  document.addEventListener("visibilitychange", refocused);
  return () => {
    window.removeEventListener("focus", refocused);
    document.removeEventListener("visibilitychange", refocused);
  };
});
