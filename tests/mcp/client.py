"""The official Python MCP SDK as an independent client of `kubectl ai exec --mcp-server`.

    client.py stdio PATH_TO_kubectl-ai-exec      (KUBECONFIG from the environment)
    client.py http URL TOKEN

Lists the tools, calls analyze and kubectl, asks for a change (this client cannot approve one:
it declares no elicitation), and prints what it saw as one JSON object.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


def text(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def flows(session):
    await session.initialize()
    names = [t.name for t in (await session.list_tools()).tools]
    analyze = await session.call_tool("analyze", {"namespace": "shop"})
    kubectl = await session.call_tool("kubectl", {"command": "get pods -n shop"})
    tool = "kubectl_change" if "kubectl_change" in names else "kubectl"
    write = await session.call_tool(tool, {"command": "delete pod web-0 -n shop"})
    return {
        "tools": names,
        "analyze": text(analyze),
        "analyze_is_error": bool(analyze.isError),
        "kubectl": text(kubectl),
        "write_tool": tool,
        "write": text(write),
        "write_is_error": bool(write.isError),
    }


async def main():
    how = sys.argv[1]
    if how == "stdio":
        params = StdioServerParameters(
            command=sys.argv[2], args=["--mcp-server", "-n", "shop"], env=dict(os.environ)
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                result = await flows(session)
    else:
        url, token = sys.argv[2], sys.argv[3]
        headers = {"Authorization": f"Bearer {token}"}
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                result = await flows(session)
    print(json.dumps(result))


asyncio.run(main())
