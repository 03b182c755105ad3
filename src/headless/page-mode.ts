/** The page was opened by `luna-lab train` (`?headless=1`): the CLI drives it, so the page
 *  starts and resumes nothing by itself. */
export function isHeadlessPage(): boolean {
  return typeof location !== 'undefined' && new URLSearchParams(location.search).get('headless') === '1';
}
