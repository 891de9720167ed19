/* textbridge inbox: The URL hash names the open conversation. */

import { renderComposer } from "./composer.js";
import { renderList } from "./list.js";
import { prefillSimulator } from "./sandbox.js";
import { $, state } from "./state.js";
import {
  messageNodes,
  renderThread,
  renderThreadHead,
  restoreDraft,
  saveDraft,
  showThread,
} from "./thread.js";

/* ------------------------------------------------------------------ routing */

export function setHash(id) {
  const hash = id && id !== "new" ? `#c/${id}` : "";
  if (window.location.hash !== hash) {
    window.history.replaceState(null, "", hash || window.location.pathname);
  }
}

export function idFromHash() {
  const match = /^#c\/([0-9a-fA-F-]{36})$/.exec(window.location.hash);
  return match ? match[1] : null;
}

export function startNewConversation() {
  saveDraft();
  state.selected = "new";
  state.messages = new Map();
  messageNodes.clear();
  state.threadHasEarlier = false;
  restoreDraft();
  setHash(null);
  showThread(true);
  renderThreadHead();
  renderComposer();
  renderThread();
  renderList();
  prefillSimulator();
  $("recipient-input").focus();
}
