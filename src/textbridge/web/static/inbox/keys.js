/* textbridge inbox: Keyboard navigation. j/k: the next/previous conversation in the list (focused,
 * so Enter opens it); /: the search box; Esc: close the contact panel, leave the search box, or go
 * back from the open conversation to its place in the list. Letters typed into a field are text,
 * never commands. */

import { isContactPanelOpen, openContactPanel } from "./contact.js";
import { $, state } from "./state.js";

const NARROW = window.matchMedia("(max-width: 760px)");

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function conversationButtons() {
  return [...$("conversation-list").querySelectorAll('[data-testid="conversation"]')];
}

/** Focus the conversation `step` places from the focused (or open) one. */
function moveConversation(step) {
  const buttons = conversationButtons();
  if (!buttons.length) return;
  const current = buttons.findIndex((button) => button === document.activeElement || button.dataset.conversationId === state.selected);
  const next = current === -1 ? (step > 0 ? 0 : buttons.length - 1) : Math.min(Math.max(current + step, 0), buttons.length - 1);
  if (NARROW.matches && state.selected) $("thread-back").click(); // the list is hidden behind the thread
  const target = conversationButtons().find((button) => button.dataset.conversationId === buttons[next].dataset.conversationId);
  target?.focus();
  target?.scrollIntoView({ block: "nearest" });
}

function escape(event) {
  if (isContactPanelOpen()) {
    openContactPanel(false);
    $("contact-toggle").focus();
    return true;
  }
  if (event.target === $("search")) {
    $("search").blur();
    (conversationButtons()[0] || $("conversation-list")).focus();
    return true;
  }
  if (state.selected && state.selected !== "new") {
    const id = state.selected;
    if (NARROW.matches) $("thread-back").click();
    conversationButtons().find((button) => button.dataset.conversationId === id)?.focus();
    return true;
  }
  return false;
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape") {
    if (state.selected !== "new" && escape(event)) event.preventDefault();
    return;
  }
  if (typing(event.target)) return;
  if (event.key === "j" || event.key === "k") {
    event.preventDefault();
    moveConversation(event.key === "j" ? 1 : -1);
  } else if (event.key === "/") {
    event.preventDefault();
    $("search").focus();
    $("search").select();
  }
}

export function setupKeys() {
  document.addEventListener("keydown", onKey);
}
