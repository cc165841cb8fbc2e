'use strict';
// Shared request plumbing: every call goes to the connection's host with the tenant API key, and API
// problems (RFC 9457 application/problem+json) become errors that name the field and the reason.

const baseUrl = (bundle) => String(bundle.authData.host_url || '').replace(/\/+$/, '');

const addApiKey = (request, z, bundle) => {
  if (bundle.authData && bundle.authData.api_key) {
    request.headers = { ...(request.headers || {}), 'X-API-Key': bundle.authData.api_key };
  }
  request.headers = { Accept: 'application/json', ...(request.headers || {}) };
  return request;
};

const explainProblems = (response, z) => {
  if (response.status >= 400 && !response.skipThrowForStatus) {
    let detail = response.content;
    try {
      const problem = JSON.parse(response.content);
      detail = [problem.title, problem.detail].filter(Boolean).join(': ') || response.content;
    } catch (e) {
      // not JSON: keep the raw body
    }
    if (response.status === 401 || response.status === 403) {
      throw new z.errors.RefreshAuthError(`The API refused the credentials (${response.status}): ${detail}`);
    }
    throw new z.errors.Error(`API error ${response.status}: ${detail}`, 'ApiError', response.status);
  }
  return response;
};

module.exports = { baseUrl, addApiKey, explainProblems };
