// Reads GET /runs/{id}/events (server-sent events) with fetch, because it needs the Authorization header.
import { authHeaders } from "./client";

export type SseMessage = { event: string; data: string };

/** Splits an SSE byte stream into messages; comment lines (": ping") are skipped. */
export function parseSseChunk(buffer: string): { messages: SseMessage[]; rest: string } {
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  const messages = blocks.flatMap((block) => {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    return data.length ? [{ event, data: data.join("\n") }] : [];
  });
  return { messages, rest };
}

/** Calls onMessage for each event until the stream ends; rejects if the connection fails. */
export async function streamEvents(path: string, onMessage: (m: SseMessage) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(`/api/v1${path}`, { headers: { ...authHeaders(), Accept: "text/event-stream" }, signal });
  if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const parsed = parseSseChunk(buffer + value);
    buffer = parsed.rest;
    parsed.messages.forEach(onMessage);
  }
}
