// The reader panel (full screen on a phone): a cited article with the quoted passage marked, or the catalogue.
// While it is open the reader owns the URL: each view is a history entry, so the back button closes it.

import { fetchArticle, issueFileUrl, loadIssues } from "./api.js";
import { BULLETIN_NAME, el, narrowScreen, textNodes, ui } from "./dom.js";
import { ARTICLE_PATH, articleUrl, chatUrl, parseLocation } from "./links.js";
import { state } from "./store.js";

function showReader() {
  const opening = ui.reader.hidden;
  ui.reader.hidden = false;
  ui.workspace.classList.add("reader-open");
  syncModalReader();
  return opening;
}

/** On a phone the reader covers the page, so the page behind it leaves the tab order. */
export function syncModalReader() {
  const modal = !ui.reader.hidden && narrowScreen.matches;
  ui.chat.inert = modal;
  ui.topbar.inert = modal;
}

function rememberReaderEntry(url, view, opening) {
  const entry = { view };
  if (opening && !state.reader.view) {
    window.history.pushState(entry, "", url);
    state.reader.pushed = true;
  } else {
    window.history.replaceState(entry, "", url);
  }
}

function setReaderHeading(kicker, title) {
  ui.readerKicker.textContent = kicker || "";
  ui.readerTitle.textContent = title;
}

function readerStatus(text, isError) {
  return el("p", { className: `reader-status${isError ? " is-error" : ""}`, text, attrs: { role: isError ? "alert" : "status" } });
}

function renderArticleText(text, range) {
  const container = el("div", { className: "article-text" });
  let firstMark = null;
  let offset = 0;
  for (const paragraph of String(text).split("\n")) {
    const paragraphStart = offset;
    const paragraphEnd = offset + paragraph.length;
    offset = paragraphEnd + 1;
    if (!paragraph.trim()) continue;
    const node = el("p");
    if (range && range.start < paragraphEnd && range.end > paragraphStart) {
      const from = Math.max(range.start, paragraphStart) - paragraphStart;
      const to = Math.min(range.end, paragraphEnd) - paragraphStart;
      const mark = el("mark", {}, textNodes(paragraph.slice(from, to)));
      if (!firstMark) {
        firstMark = mark;
        mark.classList.add("is-first");
      }
      node.append(...textNodes(paragraph.slice(0, from)), mark, ...textNodes(paragraph.slice(to)));
    } else {
      node.append(...textNodes(paragraph));
    }
    container.append(node);
  }
  return { container, firstMark };
}

export async function openArticle(articleId, range, options = {}) {
  const opening = showReader();
  if (opening) state.reader.returnFocus = options.returnFocus || document.activeElement;
  if (!options.fromHistory) rememberReaderEntry(articleUrl(articleId, range), "article", opening);
  state.reader.view = "article";
  const token = ++state.reader.token;
  ui.readerBack.hidden = !options.fromCatalogue;
  ui.readerFooter.hidden = true;
  setReaderHeading("", "正在打开原文…");
  ui.readerBody.replaceChildren(readerStatus("正在加载文章…"));
  ui.readerTitle.focus({ preventScroll: true });
  let article;
  try {
    article = await fetchArticle(articleId);
  } catch (error) {
    if (token !== state.reader.token) return;
    setReaderHeading("", "无法打开原文");
    ui.readerBody.replaceChildren(readerStatus(error.status === 404 ? "没有找到这篇文章，它可能已从索引中移除。" : error.message, true));
    return;
  }
  if (token !== state.reader.token) return;
  const issue = article.issue || {};
  setReaderHeading(`${BULLETIN_NAME}${issue.label || ""} · 第 ${article.ordinal} 篇`, article.title);
  const { container, firstMark } = renderArticleText(article.text || "", range);
  const nodes = [];
  if (range && !firstMark) nodes.push(el("p", { className: "reader-note", text: "引用位置不在本文范围内，已显示全文。" }));
  if (firstMark) nodes.push(el("p", { className: "reader-note", text: "黄色标记为答案引用的原文。" }));
  nodes.push(container);
  ui.readerBody.replaceChildren(...nodes);
  const neighbours = renderArticleFooter(article);
  ui.readerBody.scrollTop = 0;
  if (firstMark) firstMark.scrollIntoView({ block: "center" });
  fillNeighbours(article, neighbours, token);
}

function neighbourLink(article, direction) {
  const label = direction < 0 ? "上一篇" : "下一篇";
  return el("button", {
    className: `reader-neighbour reader-neighbour-${direction < 0 ? "previous" : "next"}`,
    attrs: { type: "button", "data-article-id": article.id },
    on: { click: () => openArticle(article.id, null, { fromCatalogue: !ui.readerBack.hidden }) },
  }, [el("span", { className: "reader-neighbour-label", text: label }), el("span", { className: "reader-neighbour-title", text: article.title })]);
}

/** The footer: the issue's original file at once, and a row the neighbours fill (its height is reserved). */
function renderArticleFooter(article) {
  const neighbours = el("div", { className: "reader-neighbours" });
  const download = el("a", {
    className: "reader-download",
    text: "下载原文件",
    attrs: {
      href: issueFileUrl(article.issue.id),
      download: "",
      title: `${BULLETIN_NAME}${article.issue.label} 的原始文件（${article.issue.source}）`,
    },
  });
  ui.readerFooter.replaceChildren(neighbours, download);
  ui.readerFooter.hidden = false;
  return neighbours;
}

/** Previous / next article of the same issue, from the catalogue. */
async function fillNeighbours(article, neighbours, token) {
  let siblings = [];
  try {
    const issue = (await loadIssues()).find((candidate) => candidate.id === article.issue.id);
    siblings = issue ? (issue.articles || []).slice().sort((a, b) => a.ordinal - b.ordinal) : [];
  } catch (unavailable) {
    return; // the catalogue is down: the download link still works
  }
  if (token !== state.reader.token) return;
  const at = siblings.findIndex((candidate) => candidate.id === article.id);
  if (at > 0) neighbours.append(neighbourLink(siblings[at - 1], -1));
  if (at >= 0 && at + 1 < siblings.length) neighbours.append(neighbourLink(siblings[at + 1], 1));
}

function renderCatalogue(issues) {
  const total = issues.reduce((sum, issue) => sum + (issue.articles || []).length, 0);
  setReaderHeading(`共 ${issues.length} 期 · ${total} 篇文章`, "期刊目录");
  if (!issues.length) {
    ui.readerBody.replaceChildren(readerStatus("还没有收录任何简报。"));
    return;
  }
  // The API lists issues in the one order used everywhere: newest first, undated ones last.
  ui.readerBody.replaceChildren(...issues.map((issue) => {
    const articles = (issue.articles || []).slice().sort((a, b) => a.ordinal - b.ordinal);
    return el("section", { className: "catalogue-issue" }, [
      el("h3", { className: "catalogue-issue-title" }, [
        el("span", { text: `${BULLETIN_NAME}${issue.label}` }),
        el("span", { className: "catalogue-count", text: `${articles.length} 篇` }),
      ]),
      el("ul", { className: "catalogue-articles" }, articles.map((article) => el("li", {}, [
        el("button", {
          className: "catalogue-article",
          attrs: { type: "button", "data-article-id": article.id },
          on: { click: () => openArticle(article.id, null, { fromCatalogue: true }) },
        }, [
          el("span", { className: "catalogue-ordinal", text: String(article.ordinal).padStart(2, "0"), attrs: { "aria-hidden": "true" } }),
          el("span", { className: "catalogue-title", text: article.title }),
        ]),
      ]))),
    ]);
  }));
}

export async function openCatalogue(options = {}) {
  const opening = showReader();
  if (opening) state.reader.returnFocus = options.returnFocus || document.activeElement;
  if (!options.fromHistory) rememberReaderEntry(window.location.pathname.startsWith(ARTICLE_PATH) ? chatUrl() : window.location.href, "catalogue", opening);
  state.reader.view = "catalogue";
  const token = ++state.reader.token;
  ui.readerBack.hidden = true;
  ui.readerFooter.hidden = true;
  ui.catalogueButton.setAttribute("aria-pressed", "true");
  setReaderHeading("", "期刊目录");
  ui.readerBody.replaceChildren(readerStatus("正在加载目录…"));
  ui.readerTitle.focus({ preventScroll: true });
  try {
    const issues = await loadIssues();
    if (token === state.reader.token) renderCatalogue(issues);
  } catch (error) {
    if (token === state.reader.token) ui.readerBody.replaceChildren(readerStatus(`目录加载失败：${error.message}`, true));
  }
}

/** Hides the panel; `fromHistory` means the browser already moved back to the chat entry. */
function hideReader(fromHistory) {
  if (ui.reader.hidden) return;
  state.reader.token += 1;
  state.reader.view = null;
  ui.reader.hidden = true;
  ui.workspace.classList.remove("reader-open");
  ui.catalogueButton.setAttribute("aria-pressed", "false");
  syncModalReader();
  if (!fromHistory) window.history.replaceState(null, "", chatUrl());
  const target = state.reader.returnFocus;
  state.reader.returnFocus = null;
  if (target && target.isConnected && !target.closest("[hidden]")) target.focus({ preventScroll: true });
  else ui.question.focus({ preventScroll: true });
}

export function closeReader() {
  if (ui.reader.hidden) return;
  if (state.reader.pushed) {
    // Undo our own history entry so the phone's back button and the close button agree.
    state.reader.pushed = false;
    hideReader(false);
    window.history.back();
    return;
  }
  hideReader(false);
}

export function onPopState() {
  const place = parseLocation();
  const view = window.history.state && window.history.state.view;
  if (place.view === "article") {
    openArticle(place.articleId, place.range, { fromHistory: true });
  } else if (view === "catalogue") {
    openCatalogue({ fromHistory: true });
  } else {
    state.reader.pushed = false;
    hideReader(true);
  }
}
