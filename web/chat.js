// Renders a turn: the question bubble, then a quoted answer with citation chips, a not-found note, or an error.
// Renderers never touch the conversation itself: an error bubble's 重试 calls the `onRetry` it was given.

import { articleLink, renderClosest, renderCoverage, renderRelated, renderResolved, shareUrl } from "./answer-parts.js";
import { BULLETIN_NAME, dots, el, textNodes, uniqueId } from "./dom.js";
import { renderFeedback } from "./feedback.js";

// The server says what a confidence means: its words come from the precision measured at that level.
const CONFIDENCE_KEYS = { "把握高": "high", "把握较高": "high", "把握一般": "medium" };

function confidenceLevel(answer) {
  const label = String(answer.confidence_words || "").trim() || "把握较低";
  const key = CONFIDENCE_KEYS[label] || "low";
  return { key, label: key === "low" ? `${label}，建议核对原文` : label };
}

function citationLabel(citation) {
  return `${citation.issue.label} · ${citation.article.title}`;
}

/** One chip per article: passages from the same article are shown together when it expands. */
function groupByArticle(citations) {
  const groups = new Map();
  for (const citation of citations) {
    if (!citation || !citation.article || !citation.issue) continue;
    const key = citation.article.id;
    if (!groups.has(key)) groups.set(key, { issue: citation.issue, article: citation.article, passages: [] });
    const group = groups.get(key);
    if (!group.passages.some((passage) => passage.start === citation.start && passage.end === citation.end)) {
      group.passages.push(citation);
    }
  }
  return [...groups.values()];
}

/** 出处: the answer's own citation, then the passages in other articles that state the same fact. */
function supportingCitations(response) {
  const answer = response.answer;
  if (!answer) return [];
  return [answer.citation, ...(Array.isArray(answer.supporting) ? answer.supporting : [])].filter(Boolean);
}

/** The span the answer marks, in its article: what its 出处 passages mark too. */
function answerSlot(answer) {
  const highlight = answer.highlight;
  const citation = answer.citation;
  if (!highlight || !citation) return null;
  const text = String(answer.text || "").slice(highlight.start - answer.start, highlight.end - answer.start);
  return { articleId: citation.article.id, start: highlight.start, end: highlight.end, text };
}

function relatedCitations(response) {
  return Array.isArray(response.related) ? response.related : [];
}

const OWN_NUMERAL = /^\s*(?:[（(]?[一二三四五六七八九十]+[）)、.．]|[（(]?\d+[）)、.．]|[一二三四五六七八九十]+是)/;

function renderQuotedAnswer(answer) {
  const text = String(answer.text || "");
  const quote = el("blockquote", { className: "answer-text" });
  const items = Array.isArray(answer.items) ? answer.items : [];
  if (items.length && answer.citation) {
    // A how-question about a whole article: its enumerated measures, each a link to its place. Items that
    // carry their own numerals ('一、…', '（二）…', '三是…') are not numbered again.
    const numbered = items.every((item) => !OWN_NUMERAL.test(String(item.text || "")));
    quote.append(el(numbered ? "ol" : "ul", { className: `answer-items${numbered ? "" : " has-own-numerals"}` }, items.map((item) => el("li", {}, [
      articleLink(String(item.text || ""), answer.citation.article.id, { start: item.start, end: item.end }, "answer-item"),
    ]))));
    return quote;
  }
  const highlight = answer.highlight;
  const from = highlight ? highlight.start - answer.start : 0;
  const to = highlight ? highlight.end - answer.start : text.length;
  quote.append(...markedText(text, from, to));
  return quote;
}

/** The text's nodes with text[from:to] in a <mark> (clamped; no mark when the range is empty). */
function markedText(text, from, to) {
  from = Math.max(0, Math.min(text.length, Number(from) || 0));
  to = Math.max(from, Math.min(text.length, Number(to) || 0));
  if (to <= from) return textNodes(text);
  return [...textNodes(text.slice(0, from)), el("mark", {}, textNodes(text.slice(from, to))), ...textNodes(text.slice(to))];
}

/** Where a cited passage states the answer: the answer's own span in its own passage, else the same words
 * (a supporting passage states the same figure or names). */
function answerRangeIn(passage, articleId, slot) {
  const text = String(passage.passage || "");
  if (!slot) return null;
  if (articleId === slot.articleId && slot.start >= passage.start && slot.end <= passage.end) {
    return [slot.start - passage.start, slot.end - passage.start];
  }
  const at = slot.text ? text.indexOf(slot.text) : -1;
  return at >= 0 ? [at, at + slot.text.length] : null;
}

function renderPassage(group, passageId, slot) {
  const box = el("div", { className: "passage", attrs: { id: passageId, role: "region", "aria-label": `摘录：${group.article.title}` } });
  box.hidden = true;
  box.append(el("p", { className: "passage-meta", text: `${BULLETIN_NAME}${group.issue.label} · ${group.article.title}` }));
  for (const passage of group.passages) {
    box.append(el("div", { className: "passage-item" }, [
      el("p", { className: "passage-text" }, markedText(String(passage.passage || ""), ...(answerRangeIn(passage, group.article.id, slot) || [0, 0]))),
      articleLink("查看原文", group.article.id, { start: passage.start, end: passage.end }, "action-button action-button-small"),
    ]));
  }
  return box;
}

/** Text read from a scan by OCR may differ from the printed page: say so on its chip. */
function ocrMark(citation) {
  const confidence = citation && citation.ocr_confidence;
  if (typeof confidence !== "number") return null;
  return el("span", {
    className: "citation-ocr",
    text: "OCR",
    attrs: { title: `识别自扫描件（置信度 ${confidence.toFixed(2)}），请以原件为准` },
  });
}

function renderCitationChips(citations, heading, slot = null) {
  const groups = groupByArticle(citations);
  if (!groups.length) return null;
  const section = el("div", { className: "citations" });
  const headingId = uniqueId("citations");
  section.append(el("p", { className: "section-label", text: heading, attrs: { id: headingId } }));
  const list = el("ul", { className: "citation-list", attrs: { "aria-labelledby": headingId } });
  const passages = el("div", { className: "citation-passages" });
  groups.forEach((group, index) => {
    const passageId = uniqueId("passage");
    const passage = renderPassage(group, passageId, slot);
    const chip = el("button", {
      className: "citation-chip",
      attrs: { type: "button", "aria-expanded": "false", "aria-controls": passageId, title: "展开摘录" },
      on: {
        click() {
          const expanded = chip.getAttribute("aria-expanded") === "true";
          chip.setAttribute("aria-expanded", String(!expanded));
          passage.hidden = expanded;
        },
      },
    }, [
      el("span", { className: "citation-index", text: index + 1, attrs: { "aria-hidden": "true" } }),
      el("span", { className: "citation-label" }, [
        el("span", { className: "citation-issue", text: group.issue.label }),
        " · ",
        el("span", { className: "citation-title", text: group.article.title }),
      ]),
      ocrMark(group.passages[0]),
      el("span", { className: "citation-caret", attrs: { "aria-hidden": "true" } }),
    ]);
    list.append(el("li", {}, [chip]));
    passages.append(passage);
  });
  section.append(list, passages);
  return section;
}

function copyFeedbackText(answer) {
  const citation = answer.citation;
  const source = citation ? `\n出处：${BULLETIN_NAME}${citationLabel(citation)}` : "";
  return `答案：${answer.text}${source}`;
}

async function copyToClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (denied) {
      // fall through to the selection-based copy
    }
  }
  const helper = el("textarea", { className: "clipboard-helper", attrs: { readonly: "", "aria-hidden": "true" } });
  helper.value = text;
  document.body.append(helper);
  helper.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (unsupported) {
    copied = false;
  }
  helper.remove();
  return copied;
}

function renderCopyButton(label, title, textToCopy, failureHint) {
  const feedback = el("span", { className: "copy-feedback", attrs: { role: "status" } });
  const button = el("button", {
    className: "action-button",
    text: label,
    attrs: { type: "button", title },
    on: {
      async click() {
        const copied = await copyToClipboard(textToCopy());
        button.textContent = copied ? "已复制" : "复制失败";
        button.classList.toggle("is-done", copied);
        feedback.textContent = copied ? "" : failureHint;
        window.setTimeout(() => {
          button.textContent = label;
          button.classList.remove("is-done");
        }, 2000);
      },
    },
  });
  return [button, feedback];
}

/** Passages retrieval found that do not state the answer: behind a collapsed heading, apart from 出处. */
function renderSeeAlso(citations) {
  const chips = renderCitationChips(citations, "其他相关段落");
  if (!chips) return null;
  const summary = el("summary", { className: "see-also-summary", text: `其他相关段落（${groupByArticle(citations).length}）` });
  chips.querySelector(".section-label").remove();
  return el("details", { className: "see-also" }, [summary, chips]);
}

/** "简报中没有宜昌2023年的数字；2022年为……": the same metric for another period, with its source. */
function renderOtherPeriod(note) {
  if (!note || !note.citation) return null;
  return el("div", { className: "other-period" }, [
    // the quote usually opens with its period ('2022年1—7月，黄山市…'): then it is not said twice
    el("p", { className: "other-period-text" },
      String(note.text || "").startsWith(note.stated) ? [el("q", { text: note.text })] : [`${note.stated}：`, el("q", { text: note.text })]),
    articleLink(citationLabel(note.citation), note.citation.article.id,
      { start: note.citation.start, end: note.citation.end }, "other-period-source"),
  ]);
}

function renderShareButton(turn) {
  return renderCopyButton("复制链接", "复制这个问题的链接，打开即提问", () => shareUrl(turn), "浏览器不允许访问剪贴板，请从地址栏复制链接。");
}

function renderAnswer(turn) {
  const { answer } = turn.response;
  const level = confidenceLevel(answer);
  const percent = Math.floor((Number(answer.confidence) || 0) * 100 + 1e-9);  // down: never past the next word's floor
  const bubble = el("div", { className: "bubble bubble-bot answer" });
  const header = el("div", { className: "answer-header" }, [
    el("span", { className: "answer-source-label", text: `摘自${BULLETIN_NAME}` }),
    el("span", {
      className: `confidence confidence-${level.key}`,
      attrs: { title: `答对的概率约 ${percent}%（按历史评测校准）` },
    }, [dots(3, "confidence-dots"), level.label, el("span", { className: "confidence-percent", text: `约 ${percent}%` })]),
    turn.issueId ? el("span", { className: "scope-tag", text: `仅检索 ${turn.issueLabel || turn.issueId}` }) : null,
  ]);
  bubble.append(...[renderResolved(turn.response), header, renderQuotedAnswer(answer)].filter(Boolean));
  const chips = renderCitationChips(supportingCitations(turn.response), "出处", answerSlot(answer));
  if (chips) bubble.append(chips);
  const seeAlso = renderSeeAlso(relatedCitations(turn.response));
  if (seeAlso) bubble.append(seeAlso);
  const related = renderRelated(turn.response);
  if (related) bubble.append(related);
  const actions = el("div", { className: "answer-actions" });
  if (answer.citation) {
    actions.append(articleLink("查看原文", answer.citation.article.id, { start: answer.start, end: answer.end },
      "action-button action-button-primary open-answer-article"));
  }
  actions.append(
    ...renderCopyButton("复制", "复制答案和出处", () => copyFeedbackText(answer), "浏览器不允许访问剪贴板，请手动选中答案复制。"),
    ...renderShareButton(turn),
  );
  bubble.append(actions, renderFeedback(turn));
  return bubble;
}

function renderNotFound(turn) {
  const response = turn.response;
  const note = response.other_period;
  const message = note && note.asked ? `简报中没有${note.asked}的这个数字，但有其他时期的：`
    : String(response.message || "").trim() || "简报中没有找到能回答这个问题的内容。";
  const bubble = el("div", { className: "bubble bubble-bot not-found" });
  const resolved = renderResolved(response);
  if (resolved) bubble.append(resolved);
  bubble.append(el("p", { className: "not-found-title", text: message }));
  if (turn.issueId) bubble.append(el("p", { className: "not-found-text", text: `本次仅检索了 ${turn.issueLabel || turn.issueId}，可以在上方改为“全部期次”再试。` }));
  const noteBox = renderOtherPeriod(note);
  if (noteBox) bubble.append(noteBox);
  const closest = renderClosest(response.resolved_question || turn.question, relatedCitations(response));
  bubble.append(closest || el("p", { className: "not-found-text", text: "可以换个说法，或打开“期刊目录”浏览全部文章。" }));
  const coverage = renderCoverage();
  if (coverage) bubble.append(coverage);
  bubble.append(el("div", { className: "answer-actions" }, renderShareButton(turn)), renderFeedback(turn));
  return bubble;
}

function renderError(turn, onRetry) {
  return el("div", { className: "bubble bubble-bot bubble-error", attrs: { role: "alert" } }, [
    el("p", { className: "error-title", text: turn.error.title }),
    el("p", { className: "error-text", text: turn.error.message }),
    el("div", { className: "answer-actions" }, [
      el("button", {
        className: "action-button",
        text: "重试",
        attrs: { type: "button" },
        on: { click: () => onRetry(turn) },
      }),
    ]),
  ]);
}

function renderTyping() {
  return el("div", { className: "bubble bubble-bot" }, [
    el("span", { className: "typing" }, [dots(3, "typing-dots"), "正在检索简报…"]),
  ]);
}

function turnState(turn) {
  if (turn.error) return "error";
  if (!turn.response) return "pending";
  return turn.response.found && turn.response.answer ? "answered" : "not-found";
}

function renderBotMessage(turn, onRetry) {
  const render = { error: renderError, pending: renderTyping, answered: renderAnswer, "not-found": renderNotFound };
  const status = turnState(turn);
  const bubble = render[status](turn, onRetry);
  return el("div", { className: "message message-bot", attrs: { "data-state": status } }, [
    el("span", { className: "avatar", text: "答", attrs: { "aria-hidden": "true" } }),
    bubble,
  ]);
}

export function renderTurn(turn, onRetry) {
  const node = el("article", { className: "turn", attrs: { "data-turn": turn.id, "aria-label": `问题：${turn.question}` } }, [
    el("div", { className: "message message-user" }, [
      el("p", { className: "bubble bubble-user", text: turn.question }),
    ]),
    renderBotMessage(turn, onRetry),
  ]);
  turn.node = node;
  return node;
}

export function refreshTurn(turn, onRetry) {
  const fresh = renderBotMessage(turn, onRetry);
  turn.node.querySelector(".message-bot").replaceWith(fresh);
  return fresh;
}
