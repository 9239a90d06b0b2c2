// LangChain JS ChatOpenAI against docqa serve. The working form takes the URL as
// `configuration: { baseURL }`; the older `new ChatOpenAI({...}, { basePath })` never reaches a
// local server. Usage: node langchain.mjs URL  (driven by tests/serve/test_langchain_js.py)
import { ChatOpenAI } from "@langchain/openai";

const [url] = process.argv.slice(2);
const model = new ChatOpenAI({
  apiKey: "not-needed",
  model: "docqa",
  maxTokens: -1,
  configuration: { baseURL: `${url}/v1` },
});
const whole = await model.invoke("How many boats does the station own?");
const pieces = [];
for await (const chunk of await model.stream("How many boats does the station own?")) {
  pieces.push(chunk.content);
}
console.log(JSON.stringify({ invoke: whole.content, pieces }));
