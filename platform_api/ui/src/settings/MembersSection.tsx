// Members and invitations: who is in the workspace with which role; invite by email (the link is shown to copy,
// and emailed when the workspace has an alerts email connection), change a role, remove a member.
import { useState, type FormEvent } from "react";
import { Icon } from "../components/Icon";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { ROLES, type Invitation, type Me, type Member, type Role } from "./api";
import { grantable, refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useChangeRole, useInvitations, useInvite, useMembers, useRemoveMember, useWithdrawInvitation } from "./queries";
import { Loading } from "../components/ListState";

export function MembersSection({ me }: { me: Me | undefined }) {
  const locked = refusal(me, "manage_members");
  const { data: members, error } = useMembers(!!me);
  const changeRole = useChangeRole();
  const [removing, setRemoving] = useState<Member | null>(null);
  const roles = grantable(me?.role, ROLES);

  return (
    <>
      <h2>Members</h2>
      {locked && <p className="callout callout-info">{locked}</p>}
      <ProblemNote error={error} />
      <ProblemNote error={changeRole.error} />
      {!members && !error && <Loading what="members" />}
      {!!members?.length && (
        <ul className="list" aria-label="Members">
          {members.map((m) => (
            <li key={m.user_id} className="card settings-row" aria-label={m.email} data-user-id={m.user_id}>
              <div className="settings-row-main">
                <strong>{m.name || m.email}</strong>
                {m.name && <span className="muted small"> {m.email}</span>}
                {m.user_id === me?.user.id && <span className="tag">you</span>}
              </div>
              <select aria-label={`Role of ${m.email}`} value={m.role} disabled={!!locked || changeRole.isPending}
                title={locked ?? undefined}
                onChange={(e) => changeRole.mutate({ userId: m.user_id, role: e.target.value as Role })}>
                {ROLES.map((r) => <option key={r} value={r} disabled={!roles.includes(r)}>{r}</option>)}
              </select>
              <button className="btn btn-ghost btn-xs" onClick={() => setRemoving(m)} disabled={!!locked}
                title={locked ?? undefined} aria-label={`Remove ${m.email}`}>
                <Icon name="trash" size={14} />Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <InviteForm locked={locked} roles={roles} />
      {!locked && <PendingInvitations />}
      {removing && <RemoveDialog member={removing} onClose={() => setRemoving(null)} />}
    </>
  );
}

function InviteForm({ locked, roles }: { locked: string | null; roles: Role[] }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [invitation, setInvitation] = useState<(Invitation & { email: string }) | null>(null);
  const invite = useInvite();
  const toast = useToast();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setInvitation(null);
    invite.mutate({ email: email.trim(), role }, {
      onSuccess: (answer) => {
        setInvitation({ ...answer, email: email.trim() });
        setEmail("");
      },
    });
  };
  const copy = async () => {
    await navigator.clipboard?.writeText(invitation!.url).catch(() => undefined);
    toast("Invitation link copied", "success");
  };

  return (
    <>
      <h2>Invite someone</h2>
      <form className="card settings-form" onSubmit={submit} aria-label="Invite a member">
        <div className="settings-inline">
          <label>Email
            <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} disabled={!!locked} />
            <FieldProblem error={invite.error} path="email" />
          </label>
          <label>Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)} disabled={!!locked}>
              {ROLES.map((r) => <option key={r} value={r} disabled={!roles.includes(r)}>{r}</option>)}
            </select>
            <FieldProblem error={invite.error} path="role" />
          </label>
          <button className="btn btn-primary" disabled={!!locked || invite.isPending} title={locked ?? undefined}>
            {invite.isPending ? "Inviting…" : "Invite"}
          </button>
        </div>
        <ProblemNote error={invite.error} fields={["email", "role"]} />
        {invitation && (
          <div className="callout callout-ok" role="status" aria-label="Invitation link">
            <strong>Invitation for {invitation.email} ready.</strong>
            <p>Send them this link. It works once and expires in 7 days.</p>
            <div className="row settings-copy">
              <input readOnly value={invitation.url} aria-label="Invitation URL" onFocus={(e) => e.target.select()} />
              <button type="button" className="btn btn-secondary btn-xs" onClick={copy}><Icon name="copy" size={14} />Copy</button>
            </div>
          </div>
        )}
      </form>
    </>
  );
}

function PendingInvitations() {
  const { dateTime, ago: timeAgo } = useDates();
  const { data: invitations, error } = useInvitations(true);
  const withdraw = useWithdrawInvitation();
  const open = invitations ?? []; // the API lists those not yet accepted
  if (!open.length && !error) return null;
  return (
    <>
      <h3>Waiting for an answer</h3>
      <ProblemNote error={error ?? withdraw.error} />
      <ul className="list" aria-label="Pending invitations">
        {open.map((i) => (
          <li key={i.id} className="card settings-row" aria-label={i.email}>
            <div className="settings-row-main">
              <strong>{i.email}</strong> <span className="tag">{i.role}</span>
              <div className="muted small">Invited {timeAgo(i.created_at)} · expires {dateTime(i.expires_at)}</div>
            </div>
            <button className="btn btn-ghost btn-xs" onClick={() => withdraw.mutate(i.id)} disabled={withdraw.isPending}
              aria-label={`Withdraw the invitation of ${i.email}`}>Withdraw</button>
          </li>
        ))}
      </ul>
    </>
  );
}

function RemoveDialog({ member, onClose }: { member: Member; onClose: () => void }) {
  const removal = useRemoveMember();
  const toast = useToast();
  const remove = () => removal.mutate(member.user_id, {
    onSuccess: () => {
      toast(`Removed ${member.email}`, "success");
      onClose();
    },
  });
  const footer = (
    <>
      <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button className="btn btn-danger" onClick={remove} disabled={removal.isPending}>{removal.isPending ? "Removing…" : "Remove"}</button>
    </>
  );
  return (
    <Modal title={`Remove ${member.email}?`} onClose={onClose} footer={footer}>
      <p>They lose access to this workspace at once; their sessions here end.</p>
      <ProblemNote error={removal.error} />
    </Modal>
  );
}
