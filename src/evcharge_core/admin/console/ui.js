// Shared pieces of the views: problems shown to the operator, badges, formats, polling,
// downloads and the clipboard.

import { ApiError } from "./api.js";
import { h, replace } from "./dom.js";

/** A short notice in the corner; it goes away by itself. */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    message);
  box.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 9000 : 4000);
}

/** One line saying what went wrong, from a problem (RFC 9457) or any error. */
export function problemText(error) {
  if (!(error instanceof ApiError)) {
    return `The admin API could not be reached (${error.message}).`;
  }
  const problem = error.problem;
  let text = problem.detail || problem.title || `HTTP ${error.status}`;
  if (problem.code) {
    text += ` (station answered ${problem.code}${problem.description ? `: ${problem.description}` : ""})`;
  }
  return text;
}

/** A problem as a block: title, detail, and the located errors it lists. */
export function problemBox(error) {
  const box = h("div", { class: "problem", role: "alert" });
  if (!(error instanceof ApiError)) {
    return replace(box, h("strong", null, "Network error. "), problemText(error));
  }
  const problem = error.problem;
  box.dataset.status = String(error.status);
  box.append(h("strong", { class: "problem-title" }, `${problem.title || "Error"} (${error.status})`),
    " ", h("span", { class: "problem-detail" }, problemText(error)));
  if (problem.retry_after_s !== undefined) {
    box.append(h("p", null, `Try again in ${Math.ceil(problem.retry_after_s)} s.`));
  }
  if (Array.isArray(problem.errors) && problem.errors.length) {
    box.append(issueTable(problem.errors));
  }
  return box;
}

/** Located issues (errors or warnings) as a table: line, column or field, message. */
export function issueTable(issues) {
  const located = issues.some((i) => i.line !== null && i.line !== undefined);
  const fields = issues.some((i) => i.field);
  const head = [located ? "Line" : null, located ? "Column" : null, fields ? "Field" : null,
    "Message"].filter(Boolean);
  return h("table", { class: "issues" },
    h("thead", null, h("tr", null, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, issues.map((i) => h("tr", null,
      located ? h("td", { class: "num" }, i.line ?? "") : null,
      located ? h("td", null, i.column ?? "") : null,
      fields ? h("td", null, i.field ?? "") : null,
      h("td", null, i.message)))));
}

const STATUS_CLASS = {
  Available: "available", Preparing: "busy", Charging: "charging", SuspendedEVSE: "busy",
  SuspendedEV: "busy", Finishing: "busy", Reserved: "reserved", Unavailable: "down",
  Faulted: "down", Closed: "closed",
};

export const STATUSES = Object.keys(STATUS_CLASS);

/** The CSS class of a detailed status (its colour). */
export function statusClass(status) {
  return STATUS_CLASS[status] || "unknown";
}

/** A status as a coloured badge; offline stations keep their last status, marked so. */
export function statusBadge(status, online = true) {
  const text = status || "Unknown";
  return h("span", {
    class: `badge ${statusClass(status)}${online ? "" : " offline"}`,
    title: online ? text : `${text} (last reported; the station is offline)`,
  }, text);
}

export function connectionBadge(connection) {
  return connection && connection.connected
    ? h("span", { class: "pill online" }, "online")
    : h("span", { class: "pill offline" }, "offline");
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function formatPower(watts) {
  if (watts === null || watts === undefined) return "";
  return watts >= 1000 ? `${(watts / 1000).toFixed(watts % 1000 ? 1 : 0)} kW` : `${watts} W`;
}

export function formatDistance(metres) {
  if (metres === null || metres === undefined) return "";
  return metres >= 1000 ? `${(metres / 1000).toFixed(2)} km` : `${Math.round(metres)} m`;
}

/**
 * Run `task` now and then every `ms` milliseconds, one run at a time, skipping runs while
 * the tab is hidden; returns the function that stops it.
 */
export function poll(task, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState !== "hidden") {
      try {
        await task();
      } catch {
        // the view shows its own errors; keep polling
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Save a Blob as a file. */
export function download(blob, filename) {
  const href = URL.createObjectURL(blob);
  const link = h("a", { href, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** Put text on the clipboard (the Clipboard API, else a selected textarea). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h("textarea", { class: "offscreen", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("the browser refused to copy");
}

/** Rows as tab-separated text (tabs and line breaks inside cells become spaces). */
export function tabSeparated(rows) {
  return rows.map((row) => row.map((cell) => String(cell ?? "").replace(/[\t\r\n]+/g, " "))
    .join("\t")).join("\n") + "\n";
}

/** A definition list from [term, value] pairs (values may be nodes). */
export function definitions(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [
    h("dt", null, term),
    h("dd", null, value === null || value === undefined || value === "" ? "—" : value),
  ]));
}

/** A button that shows it is busy while `action` runs. */
export function actionButton(text, action, props = {}) {
  const button = h("button", { type: "button", ...props }, text);
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await action(button);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return button;
}
