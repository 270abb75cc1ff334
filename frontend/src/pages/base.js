// The shell every page loads: the user menu and the tenant switcher (no inline handlers: CSP).
import { initShell } from "../lib/shell.js";

initShell(document);
