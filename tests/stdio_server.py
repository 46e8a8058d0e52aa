"""A tiny MCP server on stdio, to show the terminal client speaks stdio too."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("stdio-echo", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


if __name__ == "__main__":
    server.run("stdio")
