// A Worker entry for tests and benchmarks only, never deployed (wrangler.toml's
// `main` is worker.ts): the production routes plus `/test/exact-search`, the
// same search contract answered by brute force over every item
// (exact-search.ts), so a benchmark can measure recall through the Worker. The
// production bundle does not contain the brute force at all.
import { createWorker, routeTable } from "./worker.ts";
import { searchGet, searchPost, vectorSearcher } from "./routes.ts";
import { EXACT_SEARCH_PATH, exactSearch } from "./exact-search.ts";

const routes = routeTable();
const exact = vectorSearcher(exactSearch);
routes[EXACT_SEARCH_PATH] = { ...routes["/v1/search"], methods: { GET: searchGet(exact), POST: searchPost(exact) } };

export default createWorker(routes);
