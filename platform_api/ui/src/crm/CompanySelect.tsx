// A company picker for the CRM's forms and filters: the workspace's companies (at most 200) by name.
import { useCompanyChoices } from "./queries";

export function CompanySelect({ value, onChange, label, empty }: { value: string; onChange: (v: string) => void; label: string; empty: string }) {
  const companies = useCompanyChoices().data ?? [];
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{empty}</option>
      {companies.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
    </select>
  );
}
