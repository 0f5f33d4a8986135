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
  readerFooter: byId("reader-footer"),
  welcomeCoverage: byId("welcome-coverage"),
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

// A number and its unit ("293.73亿元", "13.5%", "1—4月") never break across lines.
const NUMBER_WITH_UNIT = /\d[\d,.]*(?:\s*[—~～-]\s*\d[\d,.]*)?\s*(?:%|‰|万亿元|亿元|万元|万亿|亿|万|千|百)?(?:元|美元|家|个|项|人次|人|名|台|套|件|篇|所|倍|位|期|批|场|次|条|亩|吨|座|辆|平方米|公顷|公里|年|月|日)?/g;

/** Text as nodes: plain strings, with each number and its unit in a span that does not wrap. */
export function textNodes(text) {
  const value = String(text);
  const nodes = [];
  let last = 0;
  for (const match of value.matchAll(NUMBER_WITH_UNIT)) {
    if (match[0].length < 2) continue;
    if (match.index > last) nodes.push(value.slice(last, match.index));
    nodes.push(el("span", { className: "keep-together", text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < value.length) nodes.push(value.slice(last));
  return nodes;
}
