// Short messages in the corner: "Saved version 3", "Can't connect: ...".
import { createContext, useCallback, useContext, useState, type ReactNode } from "react";

type Kind = "info" | "success" | "error";
type Toast = { id: number; kind: Kind; text: string; detail?: string };
type Notify = (text: string, kind?: Kind, detail?: string) => void;

const ToastContext = createContext<Notify>(() => {});
export const useToast = () => useContext(ToastContext);
let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const notify = useCallback<Notify>((text, kind = "info", detail) => {
    const id = nextId++;
    setToasts((ts) => [...ts.slice(-3), { id, kind, text, detail }]);
    setTimeout(() => setToasts((ts) => ts.filter((t) => t.id !== id)), kind === "error" ? 9000 : 4000);
  }, []);
  return (
    <ToastContext.Provider value={notify}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"}
            onClick={() => setToasts((ts) => ts.filter((x) => x.id !== t.id))}>
            <strong>{t.text}</strong>
            {t.detail && <p>{t.detail}</p>}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
