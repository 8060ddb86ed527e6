// A real MCP client, the TypeScript SDK's (@modelcontextprotocol/sdk, pinned in package.json),
// driven by tests/test_external_clients.py.
//
//   node ts_client.mjs '<plan JSON>'
//
// The plan says how to connect and what to ask:
//   {"transport": "http", "url": "http://127.0.0.1:8000/mcp", "token": "mcpb_..."}
//   {"transport": "stdio", "command": "python", "args": ["manage.py", "runmcp", "--user", "x"], "cwd": "..."}
// plus optional "tool": {"name", "arguments"}, "resource": "<uri>", "prompt": {"name", "arguments"}, and
// "calls": [{"name", "arguments"}, ...], tool calls whose errors are reported per call (the SDK checks
// each result's structuredContent against the listed outputSchema, with Ajv and its formats).
// The child of a stdio transport inherits this process's environment (database settings).
//
// It prints one JSON object with everything the server answered, and exits 0; on any error it
// prints {"error": ...} and exits 1.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const plan = JSON.parse(process.argv[2] ?? '{}');

function makeTransport() {
  if (plan.transport === 'http') {
    const headers = plan.token ? { Authorization: `Bearer ${plan.token}` } : {};
    return new StreamableHTTPClientTransport(new URL(plan.url), { requestInit: { headers } });
  }
  if (plan.transport === 'stdio') {
    return new StdioClientTransport({
      command: plan.command,
      args: plan.args ?? [],
      cwd: plan.cwd,
      env: { ...process.env, ...(plan.env ?? {}) },
      stderr: 'inherit',
    });
  }
  throw new Error(`unknown transport ${JSON.stringify(plan.transport)}`);
}

async function main() {
  const transport = makeTransport();
  let protocolVersion;
  const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
    setProtocolVersion?.(version);
  };

  const client = new Client({ name: 'mcp-bridge-ts-client-test', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  const out = {
    protocolVersion,
    serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
    instructions: client.getInstructions(),
    sessionId: transport.sessionId ?? null,
  };
  out.tools = (await client.listTools()).tools;
  if (plan.tool) out.toolCall = await client.callTool({ name: plan.tool.name, arguments: plan.tool.arguments ?? {} });
  if (plan.calls) {
    out.calls = [];
    for (const { name, arguments: args } of plan.calls) {
      try {
        out.calls.push({ name, arguments: args, result: await client.callTool({ name, arguments: args ?? {} }) });
      } catch (error) {
        out.calls.push({ name, arguments: args, error: `${error?.name}: ${error?.message}` });
      }
    }
  }
  out.resources = (await client.listResources()).resources;
  out.resourceTemplates = (await client.listResourceTemplates()).resourceTemplates;
  if (plan.resource) out.resource = await client.readResource({ uri: plan.resource });
  out.prompts = (await client.listPrompts()).prompts;
  if (plan.prompt) out.prompt = await client.getPrompt({ name: plan.prompt.name, arguments: plan.prompt.arguments ?? {} });
  out.ping = await client.ping();
  if (plan.transport === 'http' && out.sessionId) {
    await transport.terminateSession();  // DELETE /mcp with the session id
    out.terminated = true;
  }
  await client.close();
  return out;
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
  },
  (error) => {
    process.stdout.write(JSON.stringify({ error: `${error?.name}: ${error?.message}`, code: error?.code ?? null }) + '\n');
    process.exit(1);
  },
);
