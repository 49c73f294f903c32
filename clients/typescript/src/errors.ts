// gRPC errors as one typed error class, with the google.rpc details the services send.
import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";

/** One bad field of a request, as named by the service (e.g. `items[0].quantity`). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A failed call: the gRPC status code, its message and the structured details. */
export class ServiceError extends Error {
  constructor(
    readonly code: Code,
    readonly rawMessage: string,
    readonly fieldViolations: FieldViolation[],
    readonly retryAfterMs?: number,
  ) {
    super(`${Code[code]}: ${rawMessage}`);
    this.name = "ServiceError";
  }

  static from(err: unknown): ServiceError {
    const ce = ConnectError.from(err);
    const violations: FieldViolation[] = [];
    let retryAfterMs: number | undefined;
    for (const d of ce.details) {
      // Details received from the wire are {type, value: bytes}.
      if (!("type" in d) || !(d.value instanceof Uint8Array)) continue;
      if (d.type === "google.rpc.BadRequest") violations.push(...decodeBadRequest(d.value));
      if (d.type === "google.rpc.RetryInfo") retryAfterMs = decodeRetryInfo(d.value);
    }
    return new ServiceError(ce.code, ce.rawMessage, violations, retryAfterMs);
  }
}

// google.rpc.BadRequest { repeated FieldViolation field_violations = 1; }
// FieldViolation { string field = 1; string description = 2; }  (decoded by hand: the
// google.rpc protos are not part of proto/).
function decodeBadRequest(bytes: Uint8Array): FieldViolation[] {
  const out: FieldViolation[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1) {
      r.skip(wt);
      continue;
    }
    const inner = new BinaryReader(r.bytes());
    const v: FieldViolation = { field: "", description: "" };
    while (inner.pos < inner.len) {
      const [n, w] = inner.tag();
      if (n === 1) v.field = inner.string();
      else if (n === 2) v.description = inner.string();
      else inner.skip(w);
    }
    out.push(v);
  }
  return out;
}

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }
function decodeRetryInfo(bytes: Uint8Array): number {
  const r = new BinaryReader(bytes);
  let ms = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1) {
      r.skip(wt);
      continue;
    }
    const d = new BinaryReader(r.bytes());
    while (d.pos < d.len) {
      const [n, w] = d.tag();
      if (n === 1) ms += Number(d.int64()) * 1000;
      else if (n === 2) ms += d.int32() / 1e6;
      else d.skip(w);
    }
  }
  return ms;
}
