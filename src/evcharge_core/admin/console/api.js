// The admin API client: every call carries the admin token (kept in sessionStorage, so it
// is forgotten when the tab closes) as Authorization: Bearer. Errors are RFC 9457 problems;
// a 401 forgets the token and sends the operator back to the sign-in view.

const ROOT = new URL("../", import.meta.url); // the app's root, also when it is mounted
const TOKEN_KEY = "evcharge-console.token";

let unauthorized = () => {};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Call `handler(problem)` when the API refuses the token (401). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** The URL of an API path: "api/..." relative to the app's root, or "/..." as given. */
export function url(path, params) {
  const result = path.startsWith("/") ? new URL(path, location.origin) : new URL(path, ROOT);
  for (const [name, value] of Object.entries(params || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") {
        result.searchParams.append(name, String(item));
      }
    }
  }
  return result;
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      // fall through: not the JSON it claims to be
    }
  }
  return { status: response.status, title: response.statusText || `HTTP ${response.status}` };
}

/** Send a request; the Response if it succeeded, else an ApiError is thrown. */
export async function send(method, path, options = {}) {
  const headers = { Authorization: `Bearer ${options.token ?? token() ?? ""}` };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers["Content-Type"] = options.contentType;
  }
  const response = await fetch(url(path, options.params), {
    method, headers, body, cache: "no-store", credentials: "omit",
  });
  if (response.ok) return response;
  const problem = await problemOf(response);
  const error = new ApiError(response.status, problem);
  if (response.status === 401 && !options.token) {
    signOut();
    unauthorized(problem);
  }
  throw error;
}

export async function getJson(path, params) {
  return (await send("GET", path, { params })).json();
}

export async function postJson(path, json) {
  const response = await send("POST", path, { json: json ?? {} });
  return response.status === 204 ? null : response.json();
}

export async function putJson(path, json) {
  return (await send("PUT", path, { json })).json();
}

export async function patchJson(path, json) {
  return (await send("PATCH", path, { json })).json();
}

export async function remove(path) {
  await send("DELETE", path);
}

/** A response body as a Blob (images, exports): <img> and <a> cannot send the token. */
export async function getBlob(path, params) {
  return (await send("GET", path, { params })).blob();
}

/** Whether `candidate` is the admin token (without touching the stored one). */
export async function checkToken(candidate) {
  try {
    await send("GET", "api/stations", { params: { page_size: 1 }, token: candidate });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
}

/** A path segment, escaped. */
export function seg(value) {
  return encodeURIComponent(value);
}
