/* textbridge inbox: The JSON API client: requests with the session's CSRF token, errors, idempotency keys. */

import { $, HEADERS } from "./state.js";

/* -------------------------------------------------------------------- API */

export class ApiError extends Error {
  constructor(status, code, message, field, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

export async function request(path, { method = "GET", json, form, headers = {} } = {}) {
  const init = { method, headers: { ...HEADERS, ...headers }, credentials: "same-origin" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // a FormData: the browser writes the multipart boundary itself
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Could not reach textbridge. Check the connection and try again.", null);
  }
  if (response.status === 401 && path.startsWith("/api/")) {
    window.location.assign("/login");
    throw new ApiError(401, "unauthorized", "Your session has ended. Please sign in again.", null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    throw errorOf(response.status, data);
  }
  return data;
}

/** A GET of one page of a list: its items, and the cursor of the next page (X-Next-Cursor). */
export async function requestPage(path) {
  let response;
  try {
    response = await fetch(path, { headers: HEADERS, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "Could not reach textbridge. Check the connection and try again.", null);
  }
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "unauthorized", "Your session has ended. Please sign in again.", null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw errorOf(response.status, data);
  return { data, next: response.headers.get("X-Next-Cursor") };
}

export function errorOf(status, data) {
  const error = data && data.error;
  if (error && typeof error === "object") {
    const { code, message, field, ...details } = error;
    return new ApiError(status, code || "error", message || `Request failed (HTTP ${status}).`, field || null, details);
  }
  if (typeof error === "string") {
    return new ApiError(status, "error", error, null);
  }
  if (data && Array.isArray(data.detail) && data.detail.length) {
    // FastAPI's own validation answer (the simulator's control API).
    const first = data.detail[0];
    const where = (first.loc || []).filter((part) => part !== "body").join(".");
    return new ApiError(status, "validation_error", where ? `${where}: ${first.msg}` : String(first.msg), where || null);
  }
  return new ApiError(status, "error", `Request failed (HTTP ${status}).`, null);
}

export function idempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
