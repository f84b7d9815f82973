"use client";

import {
  BarElement,
  CategoryScale,
  type ChartData,
  Chart as ChartJS,
  type ChartOptions,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { Bar, Line } from "react-chartjs-2";
import type { MetricsHistory } from "@/server/views/metrics-history";
import {
  AMBER,
  BLUE,
  bar,
  base,
  GREEN,
  inUnit,
  line,
  pct,
  RED,
  SLATE,
  unitFor,
} from "./chart-style";
import { ChartFigure, Table } from "./figure";
import { bucketLabel, dollars, duration, percent } from "./format";

ChartJS.register(
  CategoryScale,
  LinearScale,
  BarElement,
  LineElement,
  PointElement,
  Tooltip,
  Legend,
);

export function MetricsCharts({ history }: { history: MetricsHistory }) {
  const { buckets, totals, range } = history;
  const labels = buckets.map((b) => bucketLabel(b.start, range));
  const when = (i: number) => labels[i] ?? "";
  const busy = buckets.map((b, i) => [b, i] as const);
  const withFinished = busy.filter(([b]) => b.finished > 0);
  const withChecks = busy.filter(([b]) => b.checks > 0);

  const throughput: ChartData<"bar"> = {
    labels,
    datasets: [
      bar(
        "Landings",
        buckets.map((b) => b.landings),
        BLUE,
      ),
    ],
  };
  const queueUnit = unitFor(buckets.map((b) => b.queueP95Ms));
  const queueTime: ChartData<"line"> = {
    labels,
    datasets: [
      line(
        "p50",
        buckets.map((b) => inUnit(b.queueP50Ms, queueUnit.per)),
        BLUE,
      ),
      line(
        "p95",
        buckets.map((b) => inUnit(b.queueP95Ms, queueUnit.per)),
        AMBER,
        [6, 4],
      ),
    ],
  };
  const rates: ChartData<"line"> = {
    labels,
    datasets: [
      line(
        "Success",
        buckets.map((b) => pct(b.landings, b.finished)),
        GREEN,
      ),
      line(
        "Conflict",
        buckets.map((b) => pct(b.conflicted, b.finished)),
        AMBER,
        [6, 4],
      ),
      line(
        "Failure",
        buckets.map((b) => pct(b.failed, b.finished)),
        RED,
        [2, 3],
      ),
    ],
  };
  const checkUnit = unitFor(buckets.map((b) => b.checkP95Ms));
  const checkTimes: ChartData<"line"> = {
    labels,
    datasets: [
      line(
        "p50",
        buckets.map((b) => inUnit(b.checkP50Ms, checkUnit.per)),
        BLUE,
      ),
      line(
        "p95",
        buckets.map((b) => inUnit(b.checkP95Ms, checkUnit.per)),
        AMBER,
        [6, 4],
      ),
    ],
  };
  const agentNames = history.agents.map((a) => a.agent);
  const agentRuns: ChartData<"bar"> = {
    labels: agentNames,
    datasets: [
      bar(
        "Submitted a change",
        history.agents.map((a) => a.submitted),
        GREEN,
      ),
      bar(
        "No change",
        history.agents.map((a) => a.noChange),
        SLATE,
      ),
      bar(
        "Failed or stopped",
        history.agents.map((a) => a.failed),
        RED,
      ),
      bar(
        "Other (still running)",
        history.agents.map((a) => a.runs - a.submitted - a.noChange - a.failed),
        AMBER,
      ),
    ],
  };
  const agentCost: ChartData<"bar"> = {
    labels: agentNames,
    datasets: [
      bar(
        "Cost (USD)",
        history.agents.map((a) => a.costUsd),
        BLUE,
      ),
    ],
  };
  const approvals: ChartData<"line"> = {
    labels,
    datasets: [
      {
        ...line(
          "Waiting",
          buckets.map((b) => b.approvalsWaiting),
          BLUE,
        ),
        stepped: true,
      },
    ],
  };

  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <ChartFigure
        id="throughput"
        title="Throughput"
        summary={`${totals.landings} ${totals.landings === 1 ? "change" : "changes"} landed, ${totals.finished} finished.`}
        chart={(label) => (
          <Bar
            aria-label={label}
            data={throughput}
            options={base("Landings") as ChartOptions<"bar">}
          />
        )}
        table={
          <Table
            caption="Landings per interval"
            testId="table-throughput"
            columns={["From (UTC)", "Landings", "Finished"]}
            rows={busy
              .filter(([b]) => b.finished > 0)
              .map(([b, i]) => [when(i), b.landings, b.finished])}
          />
        }
      />
      <ChartFigure
        id="queue-time"
        title="Time in queue"
        summary={`Landed changes waited ${duration(totals.queueP50Ms)} (p50) and ${duration(totals.queueP95Ms)} (p95).`}
        chart={(label) => (
          <Line
            aria-label={label}
            data={queueTime}
            options={base(queueUnit.name) as ChartOptions<"line">}
          />
        )}
        table={
          <Table
            caption="Time in queue per interval"
            testId="table-queue-time"
            columns={["From (UTC)", "p50", "p95"]}
            rows={busy
              .filter(([b]) => b.queueP50Ms !== null)
              .map(([b, i]) => [when(i), duration(b.queueP50Ms), duration(b.queueP95Ms)])}
          />
        }
      />
      <ChartFigure
        id="rates"
        title="Success, conflict and failure rates"
        summary={`Of ${totals.finished} finished: ${percent(totals.successRate)} landed, ${percent(totals.conflictRate)} met a conflict, ${percent(totals.failureRate)} failed.`}
        chart={(label) => (
          <Line
            aria-label={label}
            data={rates}
            options={
              {
                ...base("% of finished"),
                scales: {
                  ...base("% of finished").scales,
                  y: { min: 0, max: 100, title: { display: true, text: "% of finished" } },
                },
              } as ChartOptions<"line">
            }
          />
        )}
        table={
          <Table
            caption="Rates per interval"
            testId="table-rates"
            columns={["From (UTC)", "Finished", "Success", "Conflict", "Failure"]}
            rows={withFinished.map(([b, i]) => [
              when(i),
              b.finished,
              percent(b.landings / b.finished),
              percent(b.conflicted / b.finished),
              percent(b.failed / b.finished),
            ])}
          />
        }
      />
      <ChartFigure
        id="checks"
        title="Check durations"
        summary={`${totals.checks} check runs, ${totals.checkFailures} failed or timed out.`}
        chart={(label) => (
          <Line
            aria-label={label}
            data={checkTimes}
            options={base(checkUnit.name) as ChartOptions<"line">}
          />
        )}
        table={
          <>
            <Table
              caption="Check durations by check"
              testId="table-checks"
              columns={["Check", "Runs", "Failed", "p50", "p95"]}
              rows={history.checks.map((c) => [
                c.check,
                c.runs,
                c.failures,
                duration(c.p50Ms),
                duration(c.p95Ms),
              ])}
            />
            <Table
              caption="Check durations per interval"
              testId="table-check-times"
              columns={["From (UTC)", "Runs", "p50", "p95"]}
              rows={withChecks.map(([b, i]) => [
                when(i),
                b.checks,
                duration(b.checkP50Ms),
                duration(b.checkP95Ms),
              ])}
            />
          </>
        }
      />
      <ChartFigure
        id="agents"
        title="Agent runs by agent"
        summary={`${totals.agentRuns} runs by ${agentNames.length} ${agentNames.length === 1 ? "agent" : "agents"}.`}
        chart={(label) => (
          <Bar
            aria-label={label}
            data={agentRuns}
            options={base("Runs", true) as ChartOptions<"bar">}
          />
        )}
        table={
          <Table
            caption="Agent runs and cost by agent"
            testId="table-agents"
            columns={["Agent", "Runs", "Submitted", "No change", "Failed", "Tokens", "Cost"]}
            rows={history.agents.map((a) => [
              a.agent,
              a.runs,
              a.submitted,
              a.noChange,
              a.failed,
              a.tokens,
              dollars(a.costUsd),
            ])}
          />
        }
      />
      <ChartFigure
        id="cost"
        title="Cost by agent"
        summary={`${dollars(totals.costUsd)} reported by the agents' CLIs.`}
        chart={(label) => (
          <Bar aria-label={label} data={agentCost} options={base("USD") as ChartOptions<"bar">} />
        )}
        table={
          <Table
            caption="Cost by agent"
            testId="table-cost"
            columns={["Agent", "Runs", "Cost"]}
            rows={history.agents.map((a) => [a.agent, a.runs, dollars(a.costUsd)])}
          />
        }
      />
      <ChartFigure
        id="approvals"
        title="Approvals waiting"
        summary={
          totals.approvalsWaitingNow
            ? `${totals.approvalsWaitingNow} waiting now; the oldest for ${duration(totals.oldestWaitingMs)}.`
            : "None waiting now."
        }
        chart={(label) => (
          <Line
            aria-label={label}
            data={approvals}
            options={base("Changes waiting") as ChartOptions<"line">}
          />
        )}
        table={
          <Table
            caption="Changes waiting for approval at the end of each interval"
            testId="table-approvals"
            columns={["From (UTC)", "Waiting at its end"]}
            rows={busy
              .filter(([b]) => b.approvalsWaiting > 0)
              .map(([b, i]) => [when(i), b.approvalsWaiting])}
          />
        }
      />
    </div>
  );
}
