// Worker entry point. Nothing heavy at global scope: ORT and the model sessions are created on first use.
import { createApp } from "./app.js";

export default createApp();
