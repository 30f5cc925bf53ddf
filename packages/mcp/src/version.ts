/** This package's version, as servers report it to MCP clients (a test keeps it equal to package.json's). */
export const MCP_PACKAGE_VERSION = '0.1.0';
