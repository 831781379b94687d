import { describe, expect, it } from "vitest";
import { eventCurl, sampleCode } from "./samples";

const options = { url: "https://flowyard.example/hooks/abc", sample: { email: "o'hara@example.com" }, deliveryIdHeader: "X-Delivery-Id" };

describe("webhook sample code", () => {
  it("signs the delivery id with v2 in Flowyard's scheme, in each language", () => {
    const python = sampleCode("python", { ...options, auth: "hmac" });
    expect(python).toContain("f\"v2.{t}.{delivery_id}.\".encode() + body");
    expect(python).toContain("\"X-Flowyard-Signature\": f\"t={t},v2={signature}\"");
    expect(python).toContain("\"X-Delivery-Id\": delivery_id");
    expect(python).toContain("os.environ[\"FLOWYARD_WEBHOOK_SECRET\"]");
    const node = sampleCode("node", { ...options, auth: "hmac" });
    expect(node).toContain("\"v2.\" + t + \".\" + deliveryId + \".\" + body");
    const curl = sampleCode("curl", { ...options, auth: "hmac" });
    expect(curl).toContain("printf 'v2.%s.%s.%s' \"$T\" \"$DELIVERY_ID\" \"$BODY\"");
    expect(curl).toContain("BODY='{\"email\":\"o'\\''hara@example.com\"}'"); // a quote in the body survives the shell
  });

  it("follows the other schemes", () => {
    expect(sampleCode("python", { ...options, auth: "stripe" })).toContain("\"Stripe-Signature\": f\"t={t},v1={signature}\"");
    expect(sampleCode("node", { ...options, auth: "bearer" })).toContain("Authorization: \"Bearer \" + secret");
    expect(sampleCode("python", { ...options, auth: "twilio" })).toContain("hashlib.sha1");
  });

  it("never writes the secret into the code", () => {
    for (const language of ["curl", "python", "node"] as const) {
      expect(sampleCode(language, { ...options, auth: "hmac" })).toContain("FLOWYARD_WEBHOOK_SECRET");
    }
  });
});

describe("event sample", () => {
  it("posts the named event with an API key", () => {
    const code = eventCurl("https://flowyard.example", "order.paid", { total: 9 });
    expect(code).toContain("https://flowyard.example/api/v1/events");
    expect(code).toContain("\"name\":\"order.paid\"");
  });
});
