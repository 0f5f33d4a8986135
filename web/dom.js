// Page-wide DOM helpers: the page's elements, media queries, and `el`, which builds nodes from text only.

export const BULLETIN_NAME = "《科技情报参考》";

function byId(id) {
  return document.getElementById(id);
}

export const ui = {
  workspace: byId("workspace"),
  chat: byId("chat"),
  topbar: document.querySelector(".topbar"),
  scroller: byId("conversation-scroller"),
  welcome: byId("welcome"),
  conversation: byId("conversation"),
  composer: byId("composer"),
  question: byId("question"),
  sendButton: byId("send-button"),
  scopeHint: byId("scope-hint"),
  issueFilter: byId("issue-filter"),
  catalogueButton: byId("open-catalogue"),
  clearButton: byId("clear-conversation"),
  reader: byId("reader"),
  readerBack: byId("reader-back"),
  readerKicker: byId("reader-kicker"),
  readerTitle: byId("reader-title"),
  readerClose: byId("reader-close"),
  readerBody: byId("reader-body"),
};

export const narrowScreen = window.matchMedia("(max-width: 899.98px)");
export const phoneScreen = window.matchMedia("(max-width: 640px)");

/** Creates an element; strings among `children` become text nodes, never markup. */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
  for (const [type, handler] of Object.entries(options.on || {})) node.addEventListener(type, handler);
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

export function dots(count, className) {
  return el("span", { className, attrs: { "aria-hidden": "true" } }, Array.from({ length: count }, () => el("i")));
}

let idCounter = 0;
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${idCounter}`;
}
