// TypeScript test cases for rules/javascript/command-injection.yaml.
import { exec, spawn } from "child_process";
import type { Request, Response } from "express";

export function handler(req: Request, res: Response): void {
  // ruleid: js-command-injection
  spawn(`convert ${req.query.file}`, { shell: true });
  res.end();
}

export async function archive(dir: string): Promise<void> {
  // ruleid: js-shell-non-constant
  exec("tar czf out.tgz " + dir);
  // ok: js-shell-non-constant
  spawn("tar", ["czf", "out.tgz", dir]);
}
