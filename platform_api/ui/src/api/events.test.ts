import { describe, expect, it } from "vitest";
import { parseSseChunk } from "./events";

describe("parseSseChunk", () => {
  it("splits complete events and keeps a partial one for the next chunk", () => {
    const { messages, rest } = parseSseChunk('event: step\ndata: {"node_id":"a"}\n\nevent: status\ndata: {"sta');
    expect(messages).toEqual([{ event: "step", data: '{"node_id":"a"}' }]);
    expect(parseSseChunk(`${rest}tus":"completed"}\n\n`).messages).toEqual([{ event: "status", data: '{"status":"completed"}' }]);
  });

  it("skips keep-alive comments and reads CRLF line ends and multi-line data", () => {
    const { messages } = parseSseChunk(": ping\r\n\r\ndata: one\r\ndata: two\r\n\r\n");
    expect(messages).toEqual([{ event: "message", data: "one\ntwo" }]);
  });
});
