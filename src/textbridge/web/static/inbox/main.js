/* textbridge inbox: plain JavaScript, no framework, no build step.
 *
 * The page uses the same JSON API and event stream as any application. It subscribes to
 * /api/v1/events first and loads the senders, templates, conversation list and the open thread
 * once the stream is `ready`, so nothing is missed on start-up. After a reconnect the server
 * replays what was missed (Last-Event-ID); when it cannot, it says `reset` and the page loads
 * everything again. All user text is rendered with textContent, never as HTML; links to media
 * are only ever http(s) URLs.
 *
 * Channels: a conversation is SMS (MMS travels in the same thread, from the same number) or
 * WhatsApp. WhatsApp allows free-form messages only within 24 hours of the contact's last
 * message (`window_expires_at`); outside it the composer offers approved templates instead.
 */

import {
  attachFile,
  autoGrow,
  clearComposerError,
  composerTarget,
  extrasOf,
  focusComposerField,
  renderComposer,
  renderMediaHelp,
  renderTemplatePreview,
  send,
  showRecipientError,
  syncTemplates,
} from "./composer.js";
import { setupAlerts } from "./alerts.js";
import { setupContactPanel } from "./contact.js";
import { applyLookalikes, schedulePreview } from "./encoding.js";
import { connect, onMessage, tickWindow } from "./events.js";
import { setupKeys } from "./keys.js";
import {
  loadOlderConversations,
  moveThroughList,
  renderList,
  setSearchText,
  setupListControls,
} from "./list.js";
import { idFromHash, startNewConversation } from "./routing.js";
import { prefillSimulator, setupSandbox } from "./sandbox.js";
import { choiceValue, parseChoice, renderSenderHelp } from "./senders.js";
import { $, state, WINDOW_TICK_MS } from "./state.js";
import { clearSelection, loadEarlier, markReadIfVisible, selectConversation } from "./thread.js";

/* --------------------------------------------------------------------- wire */

function setupComposer() {
  const box = $("composer-text");
  box.addEventListener("input", () => {
    autoGrow();
    schedulePreview();
    if (!$("composer-error").hidden) $("composer-error").hidden = true;
  });
  $("smart-encoding").addEventListener("click", applyLookalikes);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send();
    }
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("media-toggle").addEventListener("click", () => {
    if (!state.selected) return;
    extrasOf(state.selected).mediaOpen = true;
    renderComposer();
    schedulePreview();
    $("media-url").focus();
  });
  $("file-attach").addEventListener("click", () => {
    if (state.selected) $("file-input").click();
  });
  $("file-input").addEventListener("change", (event) => attachFile(event.target.files[0]));
  $("media-remove").addEventListener("click", () => {
    if (!state.selected) return;
    const extras = extrasOf(state.selected);
    extras.mediaOpen = false;
    extras.mediaUrl = "";
    $("media-url").removeAttribute("aria-invalid");
    const picker = $("sender-picker");
    const choice = state.selected === "new" ? parseChoice(picker.value) : null;
    if (choice && choice.channel === "mms") {
      picker.value = choiceValue(choice.provider, "sms", choice.address); // back to plain SMS
      renderSenderHelp();
    }
    renderComposer();
    schedulePreview();
    box.focus();
  });
  $("media-url").addEventListener("input", (event) => {
    if (!state.selected) return;
    extrasOf(state.selected).mediaUrl = event.target.value;
    event.target.removeAttribute("aria-invalid");
    const target = composerTarget();
    if (target) renderMediaHelp(target, extrasOf(state.selected));
    schedulePreview();
  });
  $("media-url").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      box.focus();
    }
  });
  $("template-toggle").addEventListener("click", () => {
    if (!state.selected) return;
    const extras = extrasOf(state.selected);
    extras.useTemplate = !extras.useTemplate;
    clearComposerError();
    renderComposer();
    focusComposerField();
  });
  $("template-select").addEventListener("change", (event) => {
    if (!state.selected) return;
    const extras = extrasOf(state.selected);
    extras.template = event.target.value;
    clearComposerError();
    renderComposer();
    $("template-params").querySelector("input")?.focus();
  });
  $("template-params").addEventListener("input", (event) => {
    const input = event.target;
    if (!state.selected || !input.dataset.param) return;
    extrasOf(state.selected).values[input.dataset.param] = input.value;
    input.removeAttribute("aria-invalid");
    input.removeAttribute("title");
    renderTemplatePreview(extrasOf(state.selected));
  });
  $("template-sync").addEventListener("click", syncTemplates);
  $("sender-picker").addEventListener("change", () => {
    renderSenderHelp();
    clearComposerError();
    renderComposer();
    schedulePreview();
    prefillSimulator();
    const choice = parseChoice($("sender-picker").value);
    if (choice && choice.channel === "mms") $("media-url").focus();
  });
}

function setup() {
  setupComposer();
  $("recipient-input").addEventListener("input", () => {
    showRecipientError(null);
    renderComposer(); // a known WhatsApp contact may have an open window
  });
  $("recipient-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      focusComposerField();
    }
  });
  $("recipient-input").addEventListener("change", prefillSimulator);
  $("recipient-cancel").addEventListener("click", () => {
    state.drafts.delete("new");
    state.extras.delete("new");
    clearSelection();
    $("new-conversation").focus();
  });
  $("new-conversation").addEventListener("click", startNewConversation);
  $("thread-back").addEventListener("click", () => {
    clearSelection();
  });
  $("search").addEventListener("input", (event) => setSearchText(event.target.value));
  setupListControls();
  $("conversation-list").addEventListener("keydown", moveThroughList);
  $("list-more").addEventListener("click", () => loadOlderConversations().catch(() => {}));
  $("earlier").addEventListener("click", () => loadEarlier().catch(() => {}));
  document.addEventListener("visibilitychange", markReadIfVisible);
  window.addEventListener("focus", markReadIfVisible);
  window.addEventListener("hashchange", () => {
    const id = idFromHash();
    if (id && id !== state.selected) selectConversation(id);
  });
  window.addEventListener("online", connect);
  // A retried or reviewed message (delivery.js): shown at once, before its event arrives.
  document.addEventListener("inbox:message", (event) => onMessage(event.detail, true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selected === "new" && !state.sending) {
      $("recipient-cancel").click();
    }
  });
  window.setInterval(() => renderList(), 60000); // "Yesterday" becomes true at midnight
  window.setInterval(tickWindow, WINDOW_TICK_MS);
  setupSandbox();
  setupContactPanel();
  setupKeys();
  setupAlerts();

  const initial = idFromHash();
  if (initial) selectConversation(initial);
  connect();
}

setup();
