// The dashboard's charts (Recharts): runs by status per bucket (stacked bars), the success rate, and the p50/p95
// durations. No animation: a chart shows its data at once, also in tests.
import type { ReactNode } from "react";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { ms, type ChartPoint } from "./api";

const COLORS = { completed: "#16a34a", failed: "#dc2626", cancelled: "#98a2b3", success: "#4f46e5", p50: "#2563eb", p95: "#d97706" };
const HEIGHT = 220;
const axis = { fontSize: 11, stroke: "#667085" };

function ChartCard({ title, name, children }: { title: string; name: string; children: ReactNode }) {
  return (
    <figure className="card chart-card" data-chart={name} aria-label={title}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={HEIGHT}>{children}</ResponsiveContainer>
    </figure>
  );
}

export function RunsByStatusChart({ points }: { points: ChartPoint[] }) {
  return (
    <ChartCard title="Runs by status" name="runs">
      <BarChart data={points} margin={{ top: 8, right: 8, left: -16, bottom: 0 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" tick={axis} minTickGap={12} />
        <YAxis allowDecimals={false} tick={axis} />
        <Tooltip />
        <Legend />
        <Bar dataKey="completed" name="Completed" stackId="runs" fill={COLORS.completed} isAnimationActive={false} />
        <Bar dataKey="failed" name="Failed" stackId="runs" fill={COLORS.failed} isAnimationActive={false} />
        <Bar dataKey="cancelled" name="Cancelled" stackId="runs" fill={COLORS.cancelled} isAnimationActive={false} />
      </BarChart>
    </ChartCard>
  );
}

export function SuccessRateChart({ points }: { points: ChartPoint[] }) {
  return (
    <ChartCard title="Success rate" name="success">
      <LineChart data={points} margin={{ top: 8, right: 8, left: -16, bottom: 0 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" tick={axis} minTickGap={12} />
        <YAxis domain={[0, 100]} unit="%" tick={axis} />
        <Tooltip formatter={(value) => `${value}%`} />
        <Line dataKey="success" name="Success rate" stroke={COLORS.success} strokeWidth={2} connectNulls dot isAnimationActive={false} />
      </LineChart>
    </ChartCard>
  );
}

export function DurationChart({ points }: { points: ChartPoint[] }) {
  return (
    <ChartCard title="Duration (p50 and p95)" name="duration">
      <LineChart data={points} margin={{ top: 8, right: 8, left: 0, bottom: 0 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" tick={axis} minTickGap={12} />
        <YAxis tickFormatter={(value: number) => ms(value)} tick={axis} width={56} />
        <Tooltip formatter={(value) => ms(Number(value))} />
        <Legend />
        <Line dataKey="p50" name="p50" stroke={COLORS.p50} strokeWidth={2} connectNulls dot isAnimationActive={false} />
        <Line dataKey="p95" name="p95" stroke={COLORS.p95} strokeWidth={2} connectNulls dot isAnimationActive={false} />
      </LineChart>
    </ChartCard>
  );
}
