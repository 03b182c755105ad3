/** The e2e tests' MLflow server (started by global-setup on a free port) and the page's outbox. */
import { expect, type Page } from '@playwright/test';
import { MLFLOW_DIR } from './paths.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { startMlflowServer } from '../src/cli/mlflow-server.ts';

export const MLFLOW = (): string => process.env.LUNA_E2E_MLFLOW!;

/** Tests must not depend on each other: bring the server back if an earlier test left it down. */
export async function ensureMlflow(): Promise<void> {
  const up = await new MlflowClient(MLFLOW()).version().then(
    () => true,
    () => false,
  );
  if (!up) await startMlflowServer({ port: Number(process.env.LUNA_E2E_MLFLOW_PORT), dir: MLFLOW_DIR });
}

/** The page's tracking outbox is empty: every item delivered, none refused. */
export async function delivered(page: Page, timeout = 120_000): Promise<void> {
  await expect(page.locator('[data-testid=tracking-backlog][data-pending="0"][data-failed="0"]')).toHaveCount(1, {
    timeout,
  });
}
