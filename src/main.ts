// The page's entry: registering the root element is the only side effect, plus the CLI's
// handle when `luna-lab train` opened the page (`?headless=1`).
import './ui/lab-app.ts';
import { isHeadlessPage } from './headless/page-mode.ts';
import { installHeadlessApi } from './headless/headless-api.ts';

if (isHeadlessPage()) installHeadlessApi();
