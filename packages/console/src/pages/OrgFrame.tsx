import { Outlet } from "react-router";
import { ErrorState, TableSkeleton } from "../components/common";
import { useOrgView } from "../session";

/** Waits for the viewer's membership and the org's policy, which every org page reads. */
export function OrgFrame() {
  const { view, error, loading } = useOrgView();
  if (error) return <ErrorState error={error} />;
  if (loading) return <TableSkeleton />;
  if (!view)
    return <ErrorState error={new Error("You are not a member of this organization, or it does not exist.")} />;
  return <Outlet />;
}
