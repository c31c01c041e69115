#!/usr/bin/env node
import { main } from "../dist/cli/main.js";
await main(["check", ...process.argv.slice(2)], "can-i-run");
