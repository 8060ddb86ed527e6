// Preload (`node --import ./inject-auth.mjs ...`) that adds `Authorization: Bearer $MCP_BEARER_TOKEN`
// to every HTTP request the process makes.
//
// The conformance suite has no option for headers, and mcp_bridge requires a bearer API key. The
// suite makes HTTP requests three ways, all covered here: Node's built-in fetch (the TypeScript SDK
// transport) and undici.request (dns-rebinding) share undici's global dispatcher, which Node's fetch
// finds via Symbol.for('undici.globalDispatcher.1'); and raw node:http requests (the 2026-07-28
// header-validation scenarios, which need exact header bytes) are patched on the http module. An
// Authorization header the caller set itself is kept.
import http from 'node:http';
import { createRequire } from 'node:module';

const token = process.env.MCP_BEARER_TOKEN;
if (!token) {
  throw new Error('inject-auth.mjs: set MCP_BEARER_TOKEN to the API key to send');
}
const require = createRequire(process.env.UNDICI_FROM ?? import.meta.url);
const { Agent, setGlobalDispatcher } = require('undici');

const value = `Bearer ${token}`;
const isAuth = (name) => String(name).toLowerCase() === 'authorization';

function withAuthorization(headers) {
  if (headers == null) return { authorization: value };
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {  // [[name, value], ...]
      return headers.some(([name]) => isAuth(name)) ? headers : [...headers, ['authorization', value]];
    }
    for (let i = 0; i < headers.length; i += 2) if (isAuth(headers[i])) return headers;  // [name, value, ...]
    return [...headers, 'authorization', value];
  }
  if (typeof headers[Symbol.iterator] === 'function') {  // Headers, Map, other iterables of pairs
    const pairs = [...headers];
    return pairs.some(([name]) => isAuth(name)) ? pairs : [...pairs, ['authorization', value]];
  }
  return Object.keys(headers).some(isAuth) ? headers : { ...headers, authorization: value };
}

const addAuthorization = (dispatch) => (options, handler) =>
  dispatch({ ...options, headers: withAuthorization(options.headers) }, handler);

setGlobalDispatcher(new Agent().compose(addAuthorization));

// node:http: request(url[, options][, callback]) or request(options[, callback]).
function withAuthorizationOptions(options) {
  return { ...options, headers: withAuthorization(options.headers) };
}

const originalRequest = http.request;
http.request = function request(url, options, callback) {
  if (typeof url === 'string' || url instanceof URL) {
    if (typeof options === 'function' || options === undefined) {
      return originalRequest.call(this, url, withAuthorizationOptions({}), options);
    }
    return originalRequest.call(this, url, withAuthorizationOptions(options), callback);
  }
  return originalRequest.call(this, withAuthorizationOptions(url ?? {}), options);
};
http.get = function get(...args) {
  const req = http.request(...args);
  req.end();
  return req;
};
