// Parts of a reply beyond the quoted answer: how a follow-up was read, related articles of other
// issues, the closest passages of a not-found reply, what the archive covers, and 复制链接.

import { loadedIssues } from "./api.js";
import { BULLETIN_NAME, el, textNodes } from "./dom.js";
import { articleUrl, questionAsRead, questionUrl } from "./links.js";
import { openArticle } from "./reader.js";

export function articleLink(label, articleId, range, className) {
  return el("a", {
    className,
    text: label,
    attrs: { href: articleUrl(articleId, range), "data-article-id": articleId },
    on: {
      click(event) {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        openArticle(articleId, range, { returnFocus: event.currentTarget });
      },
    },
  });
}

export function renderResolved(response) {
  const resolved = String(response.resolved_question || "").trim();
  if (!resolved || resolved === String(response.question || "").trim()) return null;
  return el("p", { className: "resolved-question" }, [el("span", { className: "resolved-label", text: "理解为：" }), resolved]);
}

export function renderRelated(response) {
  const related = Array.isArray(response.related_articles) ? response.related_articles : [];
  if (!related.length) return null;
  const list = el("ul", { className: "related-list" });
  for (const item of related) {
    const link = articleLink("", item.article.id, null, "related-link");
    link.append(el("span", { className: "related-issue", text: item.issue.label }), el("span", { className: "related-title", text: item.article.title }));
    list.append(el("li", {}, [link]));
  }
  return el("section", { className: "related", attrs: { "aria-label": "其他期次的相关文章" } }, [
    el("p", { className: "section-label", text: "其他期次的相关文章" }),
    list,
  ]);
}

function bigrams(text) {
  const chars = String(text).replace(/[^\u4e00-\u9fff0-9A-Za-z]/g, "");
  const grams = new Set();
  for (let i = 0; i + 1 < chars.length; i += 1) grams.add(chars.slice(i, i + 2));
  return grams;
}

/** The sentence of a passage that shares most with the question, with its offsets in the article. */
export function closestSentence(question, citation) {
  const wanted = bigrams(question);
  const passage = String(citation.passage || "");
  let best = { text: passage, start: citation.start, end: citation.end, score: -1 };
  for (const match of passage.matchAll(/[^。！？；\n]+[。！？；]?/g)) {
    const sentence = match[0].trim();
    if (sentence.length < 4) continue;
    let score = 0;
    for (const gram of bigrams(sentence)) if (wanted.has(gram)) score += 1;
    if (score > best.score) {
      const offset = match.index + match[0].indexOf(sentence);
      best = { text: sentence, start: citation.start + offset, end: citation.start + offset + sentence.length, score };
    }
  }
  return best;
}

/** Not found: the closest passages, open — each its source and the one sentence nearest the question. */
export function renderClosest(question, citations) {
  const seen = new Set();
  const items = [];
  for (const citation of citations) {
    if (!citation || !citation.article || seen.has(citation.article.id)) continue;
    seen.add(citation.article.id);
    const sentence = closestSentence(question, citation);
    items.push(el("li", { className: "closest-item" }, [
      articleLink(`${citation.issue.label} · ${citation.article.title}`, citation.article.id, { start: sentence.start, end: sentence.end }, "closest-source"),
      el("p", { className: "closest-sentence" }, textNodes(sentence.text)),
    ]));
  }
  if (!items.length) return null;
  return el("section", { className: "closest", attrs: { "aria-label": "最接近的段落" } }, [
    el("p", { className: "section-label", text: "最接近的段落" }),
    el("ul", { className: "closest-list" }, items),
  ]);
}

/** "本库收录《科技情报参考》共 5 期：3 期有期号（2022年第10期 至 2023年第12期），2 期未注明期号。" from the catalogue. */
export function archiveCoverage(issues = loadedIssues()) {
  if (!issues.length) return "";
  const dated = issues.filter((issue) => /\d{4}\s*年\s*第\s*\d+\s*期/.test(issue.label));
  const undated = issues.length - dated.length;
  const span = dated.length === 1 ? dated[0].label : `${dated[dated.length - 1].label} 至 ${dated[0].label}`;
  let text = `本库收录${BULLETIN_NAME}共 ${issues.length} 期`;
  if (dated.length && undated) text += `：${dated.length} 期有期号（${span}），${undated} 期未注明期号`;
  else if (dated.length) text += `：${span}`;
  else text += "，均未注明期号";
  return `${text}。`;
}

export function renderCoverage() {
  const text = archiveCoverage();
  return text ? el("p", { className: "coverage", text }) : null;
}

export function shareUrl(turn) {
  return window.location.origin + questionUrl(questionAsRead(turn), turn.issueId);
}
