/* textbridge inbox: The service's alerts (GET /api/v1/alerts) in a banner under the header.
 *
 * An alert is computed by the server when asked and clears by itself, so the banner simply
 * shows the latest answer: loaded at start, again every minute, and shortly after live events
 * (a burst of events is one request). A dismissed alert stays hidden for this browser session
 * while it keeps firing; once it clears, its dismissal is forgotten, so firing again shows it.
 */

import { request } from "./api.js";
import { $ } from "./state.js";

const REFRESH_MS = 60000;
const AFTER_EVENTS_MS = 1000;
const DISMISSED_KEY = "textbridge.dismissedAlerts";

/** What each condition means for the people in the inbox, and what to do about it. */
const EXPLAINED = {
  messages_without_receipt: {
    title: "Messages with no delivery receipt",
    advice:
      "The provider took them but has not said whether they arrived. Check the provider's " +
      "status page, and that its delivery reports reach this server (TEXTBRIDGE_PUBLIC_URL). " +
      "The ticks catch up when the reports arrive.",
  },
  refused_webhook_signatures: {
    title: "Webhooks refused for their signature",
    advice:
      "Replies and delivery reports are arriving with signatures that do not verify, so they " +
      "are not applied. Usually a rotated auth token or signature secret, or a " +
      "TEXTBRIDGE_PUBLIC_URL that differs from the URL set at the provider: ask an admin to " +
      "check the provider credentials.",
  },
  journal_backlog: {
    title: "Webhooks waiting to be applied",
    advice:
      "Replies and delivery reports were received but are not in the inbox yet. Check that " +
      "textbridge is running and its database is healthy; they are applied in order once it " +
      "catches up. An admin can look at the journal (`textbridge journal list`).",
  },
};

let afterEventsTimer = 0;

export function setupAlerts() {
  $("alert-items").addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss]");
    if (button) dismiss(button.dataset.dismiss);
  });
  document.addEventListener("inbox:event", () => {
    window.clearTimeout(afterEventsTimer);
    afterEventsTimer = window.setTimeout(refreshAlerts, AFTER_EVENTS_MS);
  });
  window.setInterval(refreshAlerts, REFRESH_MS);
  refreshAlerts();
}

export async function refreshAlerts() {
  let answer;
  try {
    answer = await request("/api/v1/alerts");
  } catch {
    return; // a role without `read`, or the server unreachable: the banner keeps what it had
  }
  const firing = Array.isArray(answer && answer.alerts) ? answer.alerts : [];
  forgetCleared(firing);
  render(firing);
}

function render(firing) {
  const dismissed = dismissedNames();
  const shown = firing.filter((alert) => !dismissed.has(alert.name));
  const items = $("alert-items");
  items.replaceChildren(...shown.map(alertItem));
  $("alert-banner").hidden = shown.length === 0;
}

function alertItem(alert) {
  const explained = EXPLAINED[alert.name] || { title: alert.name, advice: "" };
  const item = document.createElement("li");
  item.className = "alert-item";
  item.dataset.testid = "alert";
  item.dataset.alert = alert.name;

  const icon = document.createElement("span");
  icon.className = "alert-icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = "!";

  const text = document.createElement("div");
  text.className = "alert-text";
  const title = document.createElement("strong");
  title.className = "alert-title";
  title.dataset.testid = "alert-title";
  title.textContent = explained.title;
  const summary = document.createElement("span");
  summary.className = "alert-summary";
  summary.dataset.testid = "alert-summary";
  summary.textContent = ` ${alert.summary}.`;
  const advice = document.createElement("p");
  advice.className = "alert-advice";
  advice.dataset.testid = "alert-advice";
  advice.textContent = explained.advice;
  text.append(title, summary, advice);

  const close = document.createElement("button");
  close.type = "button";
  close.className = "button button-ghost button-small alert-dismiss";
  close.dataset.dismiss = alert.name;
  close.dataset.testid = "alert-dismiss";
  close.setAttribute("aria-label", `Dismiss: ${explained.title}`);
  close.textContent = "Dismiss";

  item.append(icon, text, close);
  return item;
}

function dismiss(name) {
  const dismissed = dismissedNames();
  dismissed.add(name);
  saveDismissed(dismissed);
  const item = $("alert-items").querySelector(`[data-alert="${CSS.escape(name)}"]`);
  if (item) item.remove();
  $("alert-banner").hidden = $("alert-items").children.length === 0;
}

function forgetCleared(firing) {
  const names = new Set(firing.map((alert) => alert.name));
  const dismissed = dismissedNames();
  const still = new Set([...dismissed].filter((name) => names.has(name)));
  if (still.size !== dismissed.size) saveDismissed(still);
}

function dismissedNames() {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(DISMISSED_KEY) || "[]");
    return new Set(Array.isArray(saved) ? saved.filter((name) => typeof name === "string") : []);
  } catch {
    return new Set(); // storage disabled or garbled: nothing dismissed
  }
}

function saveDismissed(names) {
  try {
    window.sessionStorage.setItem(DISMISSED_KEY, JSON.stringify([...names]));
  } catch {
    // storage disabled: the dismissal lasts until the next refresh only
  }
}
