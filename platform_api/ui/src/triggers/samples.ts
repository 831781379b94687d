// Sample code that sends a signed delivery to a workflow's webhook, in curl (bash + openssl), Python (standard
// library) and Node (18+), for each auth scheme the endpoint verifies (platform_api/triggers/signatures.py):
// - hmac:   X-Flowyard-Signature: t=<unix>,v2=<hex HMAC-SHA256(secret, "v2.<t>.<delivery id>." + body)>, with the
//           delivery id in the trigger's delivery id header (v2 signs it, so a replay under a new id starts nothing);
// - stripe: Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>;
// - twilio: X-Twilio-Signature: base64 HMAC-SHA1(auth token, URL + each form field's name and value, sorted);
// - bearer: Authorization: Bearer <secret>.
// The secret is read from FLOWYARD_WEBHOOK_SECRET: it is never written into the code.

export type AuthScheme = "hmac" | "stripe" | "twilio" | "bearer";
export type Language = "curl" | "python" | "node";

export const LANGUAGES: { value: Language; label: string }[] = [
  { value: "curl", label: "curl" },
  { value: "python", label: "Python" },
  { value: "node", label: "Node.js" },
];

export const SCHEME_TEXT: Record<AuthScheme, string> = {
  hmac: "Flowyard's HMAC signature: X-Flowyard-Signature: t=<unix time>,v2=<hex HMAC-SHA256 of \"v2.<t>.<delivery id>.<body>\">, "
    + "with the delivery id in its header. The timestamp must be within five minutes.",
  stripe: "Stripe's signature (Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">). Use Stripe's signing "
    + "secret: set it with Rotate → your own secret.",
  twilio: "Twilio's signature (X-Twilio-Signature: base64 HMAC-SHA1 of the URL and the sorted form fields). Use your Twilio "
    + "auth token as the secret: set it with Rotate → your own secret.",
  bearer: "A bearer token: Authorization: Bearer <secret>. It proves the sender, not the delivery: prefer HMAC when you can.",
};

export const SECRET_ENV = "FLOWYARD_WEBHOOK_SECRET";

type Options = { url: string; auth: AuthScheme; sample: Record<string, unknown>; deliveryIdHeader: string };

/** A JSON string literal, which is also a valid Python and JavaScript string literal. */
const literal = (text: string) => JSON.stringify(text);
const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const formOf = (sample: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(sample).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));

export function sampleCode(language: Language, options: Options): string {
  return { curl, python, node }[language](options);
}

function curl({ url, auth, sample, deliveryIdHeader }: Options): string {
  const lines = [`URL=${shellQuote(url)}`, `SECRET="$${SECRET_ENV}"`];
  if (auth === "twilio") {
    const form = new URLSearchParams(formOf(sample));
    const sorted = Object.keys(formOf(sample)).sort();
    return [
      ...lines,
      `BODY=${shellQuote(form.toString())}`,
      `SIGNED=${shellQuote(url + sorted.map((key) => key + formOf(sample)[key]).join(""))}`,
      `SIG=$(printf '%s' "$SIGNED" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)`,
      `curl -sS -X POST "$URL" -H "Content-Type: application/x-www-form-urlencoded" \\`,
      `  -H "X-Twilio-Signature: $SIG" --data-raw "$BODY"`,
    ].join("\n");
  }
  lines.push(`BODY=${shellQuote(JSON.stringify(sample))}`);
  lines.push(`DELIVERY_ID="delivery-$(date +%s)-$RANDOM"`);
  let header: string;
  if (auth === "hmac") {
    lines.push("T=$(date +%s)");
    lines.push(`SIG=$(printf 'v2.%s.%s.%s' "$T" "$DELIVERY_ID" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`);
    header = `-H "X-Flowyard-Signature: t=$T,v2=$SIG"`;
  } else if (auth === "stripe") {
    lines.push("T=$(date +%s)");
    lines.push(`SIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`);
    header = `-H "Stripe-Signature: t=$T,v1=$SIG"`;
  } else {
    header = `-H "Authorization: Bearer $SECRET"`;
  }
  return [
    ...lines,
    `curl -sS -X POST "$URL" -H "Content-Type: application/json" \\`,
    `  -H "${deliveryIdHeader}: $DELIVERY_ID" ${header} \\`,
    `  --data-raw "$BODY"`,
  ].join("\n");
}

function python({ url, auth, sample, deliveryIdHeader }: Options): string {
  const head = [
    "import base64, hashlib, hmac, os, time, urllib.parse, urllib.request, uuid",
    "",
    `url = ${literal(url)}`,
    `secret = os.environ[${literal(SECRET_ENV)}]`,
  ];
  let middle: string[];
  if (auth === "twilio") {
    middle = [
      `form = ${pythonDict(formOf(sample))}`,
      "body = urllib.parse.urlencode(form).encode()",
      "signed = url + \"\".join(key + form[key] for key in sorted(form))",
      "signature = base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest()).decode()",
      "headers = {\"Content-Type\": \"application/x-www-form-urlencoded\", \"X-Twilio-Signature\": signature}",
    ];
  } else {
    middle = [`body = ${literal(JSON.stringify(sample))}.encode()`, "delivery_id = str(uuid.uuid4())"];
    const base = `"Content-Type": "application/json", ${literal(deliveryIdHeader)}: delivery_id`;
    if (auth === "hmac") {
      middle.push(
        "t = int(time.time())",
        "signed = f\"v2.{t}.{delivery_id}.\".encode() + body",
        "signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()",
        `headers = {${base}, "X-Flowyard-Signature": f"t={t},v2={signature}"}`,
      );
    } else if (auth === "stripe") {
      middle.push(
        "t = int(time.time())",
        "signature = hmac.new(secret.encode(), f\"{t}.\".encode() + body, hashlib.sha256).hexdigest()",
        `headers = {${base}, "Stripe-Signature": f"t={t},v1={signature}"}`,
      );
    } else {
      middle.push(`headers = {${base}, "Authorization": f"Bearer {secret}"}`);
    }
  }
  return [
    ...head,
    ...middle,
    "",
    "request = urllib.request.Request(url, data=body, headers=headers, method=\"POST\")",
    "with urllib.request.urlopen(request) as response:",
    "    print(response.status, response.read().decode())",
  ].join("\n");
}

function pythonDict(values: Record<string, string>): string {
  return `{${Object.entries(values).map(([key, value]) => `${literal(key)}: ${literal(value)}`).join(", ")}}`;
}

function node({ url, auth, sample, deliveryIdHeader }: Options): string {
  const head = [
    "const crypto = require(\"node:crypto\");",
    "",
    `const url = ${literal(url)};`,
    `const secret = process.env.${SECRET_ENV};`,
  ];
  let middle: string[];
  if (auth === "twilio") {
    middle = [
      `const form = ${JSON.stringify(formOf(sample))};`,
      "const body = new URLSearchParams(form).toString();",
      "const signed = url + Object.keys(form).sort().map((key) => key + form[key]).join(\"\");",
      "const signature = crypto.createHmac(\"sha1\", secret).update(signed).digest(\"base64\");",
      "const headers = { \"Content-Type\": \"application/x-www-form-urlencoded\", \"X-Twilio-Signature\": signature };",
    ];
  } else {
    middle = [`const body = ${literal(JSON.stringify(sample))};`, "const deliveryId = crypto.randomUUID();"];
    const base = `"Content-Type": "application/json", ${literal(deliveryIdHeader)}: deliveryId`;
    if (auth === "hmac") {
      middle.push(
        "const t = Math.floor(Date.now() / 1000);",
        "const signed = \"v2.\" + t + \".\" + deliveryId + \".\" + body;",
        "const signature = crypto.createHmac(\"sha256\", secret).update(signed).digest(\"hex\");",
        `const headers = { ${base}, "X-Flowyard-Signature": "t=" + t + ",v2=" + signature };`,
      );
    } else if (auth === "stripe") {
      middle.push(
        "const t = Math.floor(Date.now() / 1000);",
        "const signature = crypto.createHmac(\"sha256\", secret).update(t + \".\" + body).digest(\"hex\");",
        `const headers = { ${base}, "Stripe-Signature": "t=" + t + ",v1=" + signature };`,
      );
    } else {
      middle.push(`const headers = { ${base}, Authorization: "Bearer " + secret };`);
    }
  }
  return [
    ...head,
    ...middle,
    "",
    "fetch(url, { method: \"POST\", headers, body })",
    "  .then(async (response) => console.log(response.status, await response.text()));",
  ].join("\n");
}

/** How to send the named event from your own system (POST /api/v1/events with an API key). */
export function eventCurl(origin: string, event: string, payload: unknown): string {
  const body = JSON.stringify({ name: event, id: "your-unique-id-1", payload });
  return [
    `curl -sS -X POST ${shellQuote(`${origin}/api/v1/events`)} \\`,
    "  -H \"Authorization: Bearer $FLOWYARD_API_KEY\" -H \"Content-Type: application/json\" \\",
    `  --data-raw ${shellQuote(body)}`,
  ].join("\n");
}
