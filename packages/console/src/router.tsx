import { createBrowserRouter, Navigate } from "react-router";
import { Shell } from "./components/Shell";
import { SignInPage } from "./pages/SignIn";
import { HomePage } from "./pages/Home";
import { TeamPage } from "./pages/Team";
import { RolesPage } from "./pages/Roles";
import { PlatformPage } from "./pages/Platform";
import { ApplicationsPage } from "./pages/Applications";
import { AccountPage } from "./pages/Account";
import { NotFoundPage } from "./pages/NotFound";
import { OrgFrame } from "./pages/OrgFrame";
import { AcceptInvitationPage } from "./pages/AcceptInvitation";
import { ForgotPasswordPage } from "./pages/ForgotPassword";
import { ResetPasswordPage } from "./pages/ResetPassword";
import { MfaEnrollPage } from "./pages/MfaEnroll";
import { InvitationsPage } from "./pages/Invitations";
import { MailboxPage } from "./pages/Mailbox";
import { AuditPage } from "./pages/Audit";
import { ReportsPage } from "./pages/Reports";
import { SecurityPage } from "./pages/Security";
import { ApiKeysPage } from "./pages/ApiKeys";
import { InteractionPage } from "./pages/Interaction";
import { AccessReviewsPage } from "./pages/AccessReviews";
import { WebhooksPage } from "./pages/Webhooks";

export const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage /> },
  { path: "/accept-invitation", element: <AcceptInvitationPage /> },
  { path: "/forgot-password", element: <ForgotPasswordPage /> },
  { path: "/reset-password", element: <ResetPasswordPage /> },
  { path: "/mfa/enroll", element: <MfaEnrollPage /> },
  { path: "/interaction/:uid", element: <InteractionPage /> },
  {
    element: <Shell />,
    children: [
      { index: true, element: <HomePage /> },
      { path: "account", element: <AccountPage /> },
      { path: "platform", element: <PlatformPage /> },
      { path: "platform/applications", element: <ApplicationsPage /> },
      { path: "mailbox", element: <MailboxPage /> },
      {
        path: "orgs/:orgId",
        element: <OrgFrame />,
        children: [
          { index: true, element: <Navigate to="team" replace /> },
          { path: "team", element: <TeamPage /> },
          { path: "team/:memberId", element: <TeamPage /> },
          { path: "roles", element: <RolesPage /> },
          { path: "invitations", element: <InvitationsPage /> },
          { path: "audit", element: <AuditPage /> },
          { path: "reports", element: <ReportsPage /> },
          { path: "security", element: <SecurityPage /> },
          { path: "api-keys", element: <ApiKeysPage /> },
          { path: "access-reviews", element: <AccessReviewsPage /> },
          { path: "access-reviews/:reviewId", element: <AccessReviewsPage /> },
          { path: "webhooks", element: <WebhooksPage /> },
          { path: "webhooks/:endpointId", element: <WebhooksPage /> },
        ],
      },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);
