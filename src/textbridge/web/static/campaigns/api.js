/* textbridge campaigns: the JSON API client (the session's cookie and CSRF token). */

const HEADERS = {
  Accept: "application/json",
  "X-Requested-With": "textbridge",
  "X-CSRF-Token": document.body.dataset.csrf || "",
};

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** `json` is sent as JSON, `form` (a FormData) as multipart; the answer's JSON is returned. */
export async function request(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: { ...HEADERS }, credentials: "same-origin" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // the browser writes the multipart boundary itself
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Could not reach textbridge. Check the connection and try again.", null);
  }
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "unauthorized", "Your session has ended. Please sign in again.", null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw errorOf(response.status, data);
  return data;
}

function errorOf(status, data) {
  const error = data && data.error;
  if (error && typeof error === "object") {
    return new ApiError(status, error.code || "error", error.message || `Request failed (HTTP ${status}).`, error.field || null);
  }
  return new ApiError(status, "error", `Request failed (HTTP ${status}).`, null);
}

export const campaigns = {
  list: () => request("/api/v1/campaigns?limit=100"),
  get: (id) => request(`/api/v1/campaigns/${id}`),
  preview: (id) => request(`/api/v1/campaigns/${id}/preview`),
  report: (id) => request(`/api/v1/campaigns/${id}/report`),
  create: (body) => request("/api/v1/campaigns", { method: "POST", json: body }),
  act: (id, action) => request(`/api/v1/campaigns/${id}/${action}`, { method: "POST" }),
  uploadCsv(id, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return request(`/api/v1/campaigns/${id}/recipients/csv`, { method: "POST", form });
  },
};

export const templates = {
  list: () => request("/api/v1/templates"),
};
