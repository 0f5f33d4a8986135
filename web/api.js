// Fetch wrappers for the JSON API: every failure becomes an ApiError with a readable Chinese message.

const TOP_K = 5;

const articles = new Map(); // article id → pending or settled request; a failed one is dropped so it can be retried
let issues = null;
let issuesRequest = null;
let issuesBuild = null; // the build the loaded list comes from (IssueList.build_id)

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STATUS_MESSAGES = {
  400: "问题格式不正确，请修改后再试。",
  404: "没有找到请求的内容。",
  415: "请求格式不被支持。",
  429: "操作太频繁，请稍后再试。",
  503: "问答服务暂时不可用（索引可能尚未建立），请稍后再试。",
};

async function requestJson(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (networkError) {
    throw new ApiError("无法连接到问答服务，请检查网络后重试。", 0, "network");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (parseError) {
    body = null;
  }
  if (!response.ok) {
    const serverMessage = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
    const fallback = STATUS_MESSAGES[response.status] || `服务出错（HTTP ${response.status}），请稍后再试。`;
    throw new ApiError(serverMessage || fallback, response.status, body && body.error ? body.error.code : "http");
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError("服务返回了无法识别的内容，请稍后再试。", response.status, "bad_response");
  }
  return body;
}

export function postQuestion(question, issueId, history) {
  return requestJson("/api/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ question, top_k: TOP_K, mode: "hybrid", issue: issueId, history }),
  });
}

export function postFeedback(feedback) {
  return requestJson("/api/feedback", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(feedback),
  });
}

export function issueFileUrl(issueId) {
  return `/api/issues/${encodeURIComponent(issueId)}/file`;
}

function articleApiPath(articleId) {
  return "/api/articles/" + articleId.split("/").map(encodeURIComponent).join("/");
}

export function fetchArticle(articleId) {
  if (!articles.has(articleId)) {
    const request = requestJson(articleApiPath(articleId), { headers: { Accept: "application/json" } });
    request.catch(() => articles.delete(articleId));
    articles.set(articleId, request);
  }
  return articles.get(articleId);
}

export function loadIssues() {
  if (!issuesRequest) {
    issuesRequest = requestJson("/api/issues", { headers: { Accept: "application/json" } })
      .then((body) => {
        issues = Array.isArray(body.issues) ? body.issues : [];
        issuesBuild = body.build_id || null;
        return issues;
      })
      .catch((error) => {
        issuesRequest = null;
        throw error;
      });
  }
  return issuesRequest;
}

/** True when an answer came from another build than the issue list (an issue was added or removed since the
 * list was loaded): the cached list is dropped, so the next loadIssues() asks again. */
export function issuesOutdatedBy(buildId) {
  if (!buildId || !issuesBuild || buildId === issuesBuild || !issuesRequest) return false;
  issuesRequest = null;
  return true;
}

/** The issues from the last successful loadIssues(), or [] before it has answered. */
export function loadedIssues() {
  return issues || [];
}

export function errorTitle(error) {
  if (error.status === 0) return "网络连接失败";
  if (error.status === 400) return "这个问题无法处理";
  if (error.status === 503) return "服务暂不可用";
  if (error.status === 404) return "没有找到";
  return "出错了";
}
